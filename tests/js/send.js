// Drives the official Node clients against phiscan: node send.js <client> <phiscan url> <json args>
// Prints "ok" when the client reports every event sent; exits non-zero otherwise.
const [client, url, argsJson] = process.argv.slice(2);
const args = JSON.parse(argsJson);

async function sentry() {
  const Sentry = require("@sentry/node");
  const dsn = url.replace("://", `://${args.key}@`) + `/${args.project}`;
  Sentry.init({ dsn, defaultIntegrations: false, tracesSampleRate: 0 });
  Sentry.setUser({ email: args.planted[0], id: args.planted[1] });
  Sentry.setTag("patient", args.planted[2]);
  Sentry.setExtra("intake", { ssn: args.planted[3], email: args.planted[4] });
  Sentry.addBreadcrumb({ message: `opened chart of ${args.planted[5]}` });
  Sentry.captureException(new Error(`bad record for ${args.planted[6]}`));
  if (!(await Sentry.flush(20000))) throw new Error("sentry flush timed out");
}

async function posthog() {
  const { PostHog } = require("posthog-node");
  const ph = new PostHog(args.key, { host: url, flushAt: 100, flushInterval: 0, fetchRetryCount: 0 });
  ph.capture({ distinctId: args.planted[0], event: "intake submitted",
               properties: { $current_url: `https://app.example.com/intake?email=${args.planted[1]}`,
                             ssn: args.planted[2], note: `patient ${args.planted[3]}` } });
  ph.identify({ distinctId: "user-7", properties: { email: args.planted[4], ssn: args.planted[5] } });
  await ph.shutdown(20000);
}

async function segment() {
  const { Analytics } = require("@segment/analytics-node");
  const analytics = new Analytics({ writeKey: args.key, host: url, maxEventsInBatch: 100, flushInterval: 60000,
                                    maxRetries: 0 });
  const failures = [];
  analytics.on("error", (err) => failures.push(err));
  analytics.identify({ userId: "user-7", traits: { email: args.planted[0], ssn: args.planted[1] } });
  analytics.track({ userId: "user-7", event: "Intake Submitted",
                    properties: { email: args.planted[2], note: `ssn ${args.planted[3]}` } });
  analytics.page({ userId: "user-7", name: "Chart", properties: { url: `https://app.example.com/p/${args.planted[4]}` } });
  await analytics.closeAndFlush({ timeout: 20000 });
  if (failures.length) throw failures[0];
}

({ sentry, posthog, segment })[client]().then(() => { console.log("ok"); process.exit(0); },
  (err) => { console.error(String(err)); process.exit(1); });
