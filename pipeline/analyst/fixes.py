"""Fix suggestions per offender: the concrete change that stops the leak at its source.

The advice is chosen by what leaked, from which source and in which kind of
field, because advice that is right for one is wrong for another:
- a secret is compromised once logged: the first step is always to rotate it,
  and the suggestion says where it leaked so the exposure can be assessed;
- a value in a URL is fixed by moving it out of the URL, a value in a free-text
  message by not logging it, a value under its own key by dropping that key;
- IP advice (Vercel's IP Address Visibility) is only ever given for an IP.
Code in suggestions is valid as written: JavaScript accessors use bracket
notation for keys that are not identifiers (cookie names), and Sentry rules use
data types that exist in Advanced Data Scrubbing. Suggestions name field paths,
routes and entity types, never values.
"""

from __future__ import annotations

import json
import re

from core.paths import parse
from pipeline.storage.catalog import SECRET_TYPES

URL_LEAVES = ("path", "url", "referer", "referrer", "current_url", "page_location", "page_referrer", "queryparams",
              "search", "href", "http.url", "url.full", "http.target", "url.query")
FREE_TEXT_LEAVES = ("message", "value", "formatted", "title", "page_title", "msg", "text", "body", "description",
                    "eventdata", "string_value")
JS_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
# Advanced Data Scrubbing data types that exist for an entity; the rest are matched by a regex you supply.
SENTRY_TYPES = {"CREDIT_CARD": "Credit card numbers", "US_SSN": "US social security numbers",
                "IP_ADDRESS": "IP addresses", "EMAIL_ADDRESS": "Email addresses", "PRIVATE_KEY": "PEM keys",
                "CREDENTIAL": "Password fields", "AUTH_TOKEN": "Anything", "API_KEY": "Anything"}


def _parts(field_path: str) -> list[str | int]:
    try:
        return parse(field_path)
    except ValueError:
        return [field_path]


def js_accessor(root: str, parts: list[str | int]) -> str:
    """`root?.a?.["x-y"]?.[0]`: optional chaining, bracket notation for keys that are not identifiers."""
    out = root
    for p in parts:
        if isinstance(p, int):
            out += f"?.[{p}]"
        elif JS_IDENTIFIER.fullmatch(p):
            out += f"?.{p}"
        else:
            out += f"?.[{json.dumps(p)}]"
    return out


def js_delete(root: str, parts: list[str | int], key: str | None = None) -> str:
    """A valid JavaScript statement removing the field at `parts`, in every element of a list it crosses.

    `[name, value]` pair lists (Sentry's `request.headers`) are filtered by `key`, the pair's name.
    """
    i = next((i for i, p in enumerate(parts) if isinstance(p, int)), None)
    if i is not None and parts[i + 1:] and not all(isinstance(p, int) for p in parts[i + 1:]):
        return f"{js_accessor(root, parts[:i])}?.forEach((item) => {{ {js_delete('item', parts[i + 1:], key)} }});"
    if i is not None:
        target, lhs = js_accessor(root, parts[:i]), _assign(root, parts[:i])
        if key and len(parts) - i == 2:
            return (f"if (Array.isArray({target})) {lhs} = {lhs}.filter(([name]) => "
                    f"String(name).toLowerCase() !== {json.dumps(key.lower())});")
        return f"if (Array.isArray({target})) {lhs} = {lhs}.map(() => \"[Filtered]\");"
    return f"delete {js_accessor(root, parts)};"


def _assign(root: str, parts: list[str | int]) -> str:
    """A plain (non-optional) accessor, valid on the left of `=`."""
    return js_accessor(root, parts).replace("?.[", "[").replace("?.", ".")


def sentry_selector(parts: list[str | int]) -> str:
    """A Sentry data-scrubbing source selector: dotted, list indexes as `*`, odd keys single-quoted."""
    out = []
    for p in parts:
        if isinstance(p, int):
            out.append("*")
        elif JS_IDENTIFIER.fullmatch(p.lstrip("$")):
            out.append(p)
        else:
            out.append("'" + p.replace("'", "''") + "'")
    return ".".join(out)


def dotted(field_path: str) -> str:
    """A dotted path (`request.data.email`); list indexes become `*` (pino, PostHog and Segment paths)."""
    return ".".join("*" if isinstance(p, int) else str(p) for p in _parts(field_path))


def _leaf(parts: list[str | int]) -> str:
    names = [p for p in parts if isinstance(p, str)]
    return names[-1].lstrip("$") if names else ""


def is_url_field(field_path: str) -> bool:
    leaf = _leaf(_parts(field_path)).lower()
    return leaf in URL_LEAVES or leaf.endswith(("_url", "url", "_uri"))


def is_free_text(field_path: str) -> bool:
    return _leaf(_parts(field_path)).lower() in FREE_TEXT_LEAVES or field_path == "message"


def suggest(source: str, field_path: str, entity_type: str, field_key: str | None = None,
            route: str | None = None) -> str:
    """One remediation line for an offender (source, field path, entity type, the key that named the value)."""
    parts = _parts(field_path)
    where = f"`{field_path}` of {source}" + (f" on `{route}`" if route and route != "-" else "")
    steps = []
    if entity_type in SECRET_TYPES:
        steps.append(f"ROTATE this {entity_type} now: revoke it at the issuer and issue a new one (it was readable "
                     f"by everyone with access to {source}; review its use since it was first seen in {where})")
    if is_url_field(field_path):
        name = f"`{field_key}`" if field_key else "it"
        steps.append(f"stop putting {entity_type} in URLs: send {name} in a POST body or keep it server-side "
                     f"(URLs are copied into access logs, analytics and referrers)")
    steps.append(_source_fix(source, field_path, parts, entity_type, field_key))
    return "; ".join(s for s in steps if s)


def _source_fix(source: str, field_path: str, parts: list[str | int], entity_type: str,
                field_key: str | None) -> str:
    secret = entity_type in SECRET_TYPES
    if source == "vercel":
        return _vercel_fix(field_path, entity_type, field_key, secret)
    if source == "sentry":
        return _sentry_fix(field_path, parts, entity_type, field_key)
    if source == "vercel-traces":
        key = parts[-1] if parts and isinstance(parts[-1], str) else field_path
        return (f"OpenTelemetry: do not set span attribute `{key}` (span.setAttribute), or drop it in a "
                f"SpanProcessor / the collector's `attributes` processor (action: delete) before export")
    if source in ("vercel-analytics", "vercel-speed-insights"):
        component = "<SpeedInsights>" if source == "vercel-speed-insights" else "<Analytics>"
        what = ("strip the query string from `event.url`" if is_url_field(field_path)
                else f"drop `{dotted(field_path)}` from the track() custom data")
        return f"Vercel {source.split('-', 1)[1].replace('-', ' ')}: in {component} `beforeSend`, {what}"
    if source == "segment":
        return (f"Segment: block `{dotted(field_path)}` in a Protocols tracking plan (or a destination filter "
                f"that drops the property) and stop sending it from analytics.{_segment_call(parts)}()")
    if source == "posthog":
        if is_url_field(field_path):
            return ("PostHog: strip query strings in `sanitize_properties` for `$current_url`/`$pathname`, "
                    "or set `mask_personal_data_properties: true`")
        return f"PostHog: add `{_leaf(parts)}` to `property_denylist` in posthog.init and stop capturing it"
    if source == "mixpanel":
        return (f"Mixpanel: set `property_blacklist: ['{_leaf(parts)}']` in mixpanel.init (or strip it in your "
                f"track wrapper)")
    if source == "ga4":
        if is_url_field(field_path) or entity_type == "EMAIL_ADDRESS":
            return ("GA4: turn on data redaction (Admin > Data streams > Redact data: email and the query "
                    "parameters that carry it), and redact page_location in the tag before collection")
        return (f"GA4: do not send `{field_key or _leaf(parts)}` as an event parameter or user property "
                f"(remove it from gtag('event') / the GTM tag)")
    if secret:
        return f"remove the statement that logs `{dotted(field_path)}`"
    return f"remove `{dotted(field_path)}` ({entity_type}) before it is logged"


def _vercel_fix(field_path: str, entity_type: str, field_key: str | None, secret: bool) -> str:
    if field_path == "proxy.clientIp" or (field_path.startswith("proxy.") and entity_type == "IP_ADDRESS"):
        return ("Vercel: client IPs in drains are personal data; limit who can read the drain, or drop "
                "`proxy.clientIp` at ingest (route the drain through `phiscan serve` /ingest/vercel with scrubbing)")
    if field_path.startswith("proxy.") or field_path == "path":
        return (f"Vercel drain: the request path carries {entity_type}; until the route changes, route the drain "
                f"through `phiscan serve` (/ingest/vercel) so proxy paths are scrubbed before storage")
    if field_path == "message":
        if secret:
            hint = f" (the `{field_key}` key)" if field_key and field_key != "message" else ""
            return (f"Next.js logging: find the console.log/logger call that prints configuration or environment "
                    f"values{hint} and remove it; never log process.env or config objects")
        if field_key and field_key != "message":
            return (f"Next.js logging: stop logging `{field_key}`; with pino set "
                    f"`redact: {{ paths: ['{field_key}', '*.{field_key}'], censor: '[REDACTED]' }}`")
        return (f"Next.js logging: this log line carries {entity_type} in its text: log an id instead of the "
                f"value, or run logs through `phiscan scrub` before the drain")
    return f"Vercel drain: scrub `{dotted(field_path)}` before it leaves the app"


def _sentry_fix(field_path: str, parts: list[str | int], entity_type: str, field_key: str | None) -> str:
    selector = sentry_selector(parts)
    if is_free_text(field_path) or is_url_field(field_path):
        kind = SENTRY_TYPES.get(entity_type)
        rule = (f"[Mask] [{kind}] from [{selector}]" if kind and kind != "Anything"
                else f"[Replace] [Regex matches] from [{selector}] with a regex for your {entity_type} format")
    else:
        rule = f"[Remove] [Anything] from [{selector}]"
    return (f"Sentry: add the Advanced Data Scrubbing rule `{rule}` (project Security & Privacy), and in "
            f"`beforeSend(event)`: `{js_delete('event', parts, field_key)}`; keep `sendDefaultPii: false`")


def _segment_call(parts: list[str | int]) -> str:
    return "identify" if parts and parts[0] == "traits" else "page" if parts and parts[0] == "context" else "track"
