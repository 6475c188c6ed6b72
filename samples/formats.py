"""Seeded telehealth events in every vendor format phiscan reads, with labels.

Each generator returns `(record, labels)`; a label is `(field_path, start, end,
entity_type)` in phiscan's path syntax, relative to the event payload. The
shapes follow `../shared/formats` (FORMATS.md lists where PHI hides): Sentry
exception values, request headers/cookies/data, user, breadcrumbs, frame vars
and Redux state; Segment identify traits and page URLs; PostHog `$current_url`,
titles and `$set`; Mixpanel properties; GA4 `event_params`/`user_properties`;
Vercel Web Analytics `eventData`/`queryParams`. A share of events is benign.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote

from samples import vocab as V
from samples.generate import Corpus, Text

Label = tuple[str, int, int, str]


class Formats(Corpus):
    """Generators of one event per call for each vendor format."""

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.r.getrandbits(128)))

    def hexid(self, n: int = 32) -> str:
        return self.token(n, "0123456789abcdef")

    def iso(self) -> str:
        self.n += 1
        s = 1763800000 + self.n * self.r.randint(5, 90)
        return f"2025-11-{22 + (s // 86400) % 5:02d}T{(s // 3600) % 24:02d}:{(s // 60) % 60:02d}:{s % 60:02d}.000Z"

    def query(self, base: str, params: dict, labels: list[Label], path: str, prefix: str = "") -> str:
        """A URL with URL-encoded params; values given as (value, entity) are planted."""
        t = Text().add(prefix + base + "?")
        for i, (k, v) in enumerate(params.items()):
            t.add(("&" if i else "") + f"{k}=")
            if isinstance(v, tuple):
                t.plant(quote(v[0], safe="").replace("%20", "+"), v[1])
            else:
                t.add(quote(str(v), safe=""))
        labels.extend((path, s, e, ent) for s, e, ent in t.spans)
        return str(t)

    # -- Sentry --------------------------------------------------------------------------
    def sentry_event(self) -> tuple[dict, list[Label]]:
        r, labels = self.r, []
        ev: dict = {"event_id": self.hexid(), "timestamp": self.iso(), "platform": "javascript", "level": "error",
                    "environment": "production", "release": "telecare-web@2.14." + str(r.randint(0, 9)),
                    "sdk": {"name": "sentry.javascript.nextjs", "version": "9.12.0"},
                    "contexts": {"browser": {"name": "Chrome", "version": "131.0.0"},
                                 "os": {"name": "Mac OS X", "version": "10.15.7"}}}
        if r.random() < 0.25:  # benign error
            ev["exception"] = {"values": [{"type": "TypeError", "value": r.choice(V.BENIGN_ERRORS),
                                           "stacktrace": {"frames": [{"filename": "app/page.tsx", "lineno": 42,
                                                                      "function": "render", "in_app": True}]}}]}
            ev["transaction"] = r.choice(V.ROUTES)
            return ev, labels
        p = self.person()
        ev["transaction"] = r.choice(["/api/intake", "/patients/[id]", "/api/prescriptions", "/api/labs/results"])
        t = Text().add("Validation failed for patient ").plant(p["email"], "EMAIL_ADDRESS").add(": dob ").plant(
            p["dob"], "DATE_OF_BIRTH").add(" is not a valid date")
        ev["exception"] = {"values": [{"type": "ValidationError", "value": str(t), "stacktrace": {"frames": [
            {"filename": "lib/intake.ts", "function": "validate", "lineno": 10},
            {"filename": "lib/intake.ts", "function": "parse", "lineno": 20},
            {"filename": "app/api/intake/route.ts", "function": "POST", "lineno": 31,
             "vars": {"email": p["email"], "mrn": p["mrn"]}}]}}]}
        labels += [("exception.values[0].value", s, e, ent) for s, e, ent in t.spans]
        labels += [("exception.values[0].stacktrace.frames[2].vars.email", 0, len(p["email"]), "EMAIL_ADDRESS"),
                   ("exception.values[0].stacktrace.frames[2].vars.mrn", 0, len(p["mrn"]), "MEDICAL_RECORD_NUMBER")]
        url = self.query("https://app.telecare.health/api/intake", {"ref": "email", "phone": (p["phone"], "PHONE_NUMBER")},
                         labels, "request.url")
        jwt = f"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ{self.token(40)}.{self.token(43)}"
        session = self.token(40)
        processed = r.random() < 0.5
        headers = {"User-Agent": r.choice(V.USER_AGENTS), "Authorization": f"Bearer {jwt}",
                   "Cookie": f"theme=dark; next-auth.session-token={session}"}
        ev["request"] = {"url": url, "method": "POST",
                         "data": {"firstName": p["first"], "lastName": p["last"], "dob": p["dob"],
                                  "condition": p["condition"]}}
        for k, v, ent in (("firstName", p["first"], "PERSON"), ("lastName", p["last"], "PERSON"),
                          ("dob", p["dob"], "DATE_OF_BIRTH"), ("condition", p["condition"], "MEDICAL_CONDITION")):
            labels.append((f"request.data.{k}", 0, len(v), ent))
        if processed:  # the shape of webhooks and the API: [[k, v]] pairs
            ev["request"]["headers"] = [[k, v] for k, v in headers.items()]
            auth_path, cookie_path = "request.headers[1][1]", "request.headers[2][1]"
        else:
            ev["request"]["headers"] = headers
            auth_path, cookie_path = "request.headers.Authorization", "request.headers.Cookie"
        labels.append((auth_path, 7, 7 + len(jwt), "AUTH_TOKEN"))
        c0 = headers["Cookie"].index(session)
        labels.append((cookie_path, c0, c0 + len(session), "AUTH_TOKEN"))
        ip = self.ip()
        ev["user"] = {"id": str(r.randint(1000, 99999)), "email": p["email"], "ip_address": ip}
        labels += [("user.email", 0, len(p["email"]), "EMAIL_ADDRESS"), ("user.ip_address", 0, len(ip), "IP_ADDRESS")]
        crumb = Text().add("[intake] submitting for ").plant(p["name"], "PERSON").add(" with ").plant(
            p["medication"], "MEDICATION")
        fetch = self.query("/api/patients/search", {"email": (p["email"], "EMAIL_ADDRESS")}, labels,
                           "breadcrumbs.values[1].data.url")
        ev["breadcrumbs"] = {"values": [
            {"category": "console", "level": "log", "message": str(crumb), "timestamp": 1763800000.1},
            {"category": "fetch", "type": "http", "data": {"method": "GET", "url": fetch, "status_code": 200}},
            {"category": "navigation", "data": {"from": "/dashboard", "to": "/intake"}}]}
        labels += [("breadcrumbs.values[0].message", s, e, ent) for s, e, ent in crumb.spans]
        ev["contexts"]["state"] = {"state": {"type": "redux", "value": {"patient": {"memberId": p["member"],
                                                                                    "ssn": p["ssn"]}}}}
        labels += [("contexts.state.state.value.patient.memberId", 0, len(p["member"]), "HEALTH_PLAN_ID"),
                   ("contexts.state.state.value.patient.ssn", 0, len(p["ssn"]), "US_SSN")]
        return ev, labels

    def sentry_envelope(self) -> tuple[bytes, dict, list[Label]]:
        """An SDK envelope with one event item and one binary attachment item."""
        ev, labels = self.sentry_event()
        body = json.dumps(ev, separators=(",", ":")).encode()
        attachment = bytes(self.r.getrandbits(8) for _ in range(64))
        header = {"event_id": ev["event_id"], "sent_at": ev["timestamp"],
                  "dsn": "https://abc123@o4504.ingest.us.sentry.io/4507"}
        data = (json.dumps(header).encode() + b"\n" + json.dumps({"type": "event", "length": len(body)}).encode()
                + b"\n" + body + b"\n" + json.dumps({"type": "attachment", "length": len(attachment),
                                                     "filename": "intake.pdf"}).encode() + b"\n" + attachment + b"\n")
        return data, ev, labels

    # -- Segment ---------------------------------------------------------------------------
    def segment_message(self) -> tuple[dict, list[Label]]:
        r, labels = self.r, []
        base = {"messageId": "ajs-" + self.hexid(), "anonymousId": self.uuid(), "timestamp": self.iso(),
                "context": {"library": {"name": "analytics.js", "version": "5.2.0"}, "userAgent": r.choice(V.USER_AGENTS)}}
        kind = r.randrange(4)
        p = self.person()
        if kind == 0:
            base.update(type="identify", userId=str(r.randint(10000, 99999)),
                        traits={"email": p["email"], "name": p["name"], "phone": p["phone"], "birthday": p["dob"],
                                "plan": "monthly"})
            for k, ent in (("email", "EMAIL_ADDRESS"), ("name", "PERSON"), ("phone", "PHONE_NUMBER"),
                           ("birthday", "DATE_OF_BIRTH")):
                v = base["traits"][k]
                labels.append((f"traits.{k}", 0, len(v), ent))
        elif kind == 1:
            base.update(type="track", event="Appointment Booked", userId=str(r.randint(10000, 99999)),
                        properties={"visit_type": "video", "condition": p["condition"], "provider": "Dr. " + p["last"]})
            labels.append(("properties.condition", 0, len(p["condition"]), "MEDICAL_CONDITION"))
            labels.append(("properties.provider", 4, 4 + len(p["last"]), "PERSON"))
        elif kind == 2:
            url = self.query("https://app.telecare.health/intake", {"email": (p["email"], "EMAIL_ADDRESS")},
                             labels, "context.page.url")
            t = Text().add("Treatment options for ").plant(p["condition"], "MEDICAL_CONDITION").add(" | Telecare")
            base.update(type="page", name="Intake", properties={"title": str(t)})
            base["context"]["page"] = {"path": "/intake", "url": url, "title": str(t)}
            labels += [("properties.title", s, e, ent) for s, e, ent in t.spans]
            labels += [("context.page.title", s, e, ent) for s, e, ent in t.spans]
            ip = self.ip()
            base["context"]["ip"] = ip
            labels.append(("context.ip", 0, len(ip), "IP_ADDRESS"))
        else:  # benign
            base.update(type="track", event="Pricing Viewed", userId=str(r.randint(10000, 99999)),
                        properties={"plan": "annual", "price": 199})
        return base, labels

    # -- PostHog -------------------------------------------------------------------------
    def posthog_event(self) -> tuple[dict, list[Label]]:
        r, labels = self.r, []
        p = self.person()
        props: dict = {"$lib": "web", "$lib_version": "1.200.0", "$browser": "Chrome", "$os": "Mac OS X",
                       "$session_id": self.uuid(), "$window_id": self.uuid(), "distinct_id": self.uuid(),
                       "$host": "app.telecare.health"}
        ev = {"uuid": self.uuid(), "event": "$pageview", "timestamp": self.iso(), "properties": props}
        if r.random() < 0.3:  # benign
            props.update({"$current_url": "https://app.telecare.health/pricing", "$pathname": "/pricing",
                          "title": "Pricing | Telecare"})
            return ev, labels
        props["$current_url"] = self.query("https://app.telecare.health/labs/results",
                                           {"mrn": (p["mrn"], "MEDICAL_RECORD_NUMBER"), "tab": "recent"},
                                           labels, "properties.$current_url")
        props["$pathname"] = "/labs/results"
        t = Text().plant(p["name"], "PERSON").add(" – ").plant(p["condition"], "MEDICAL_CONDITION").add(" results")
        props["title"] = str(t)
        labels += [("properties.title", s, e, ent) for s, e, ent in t.spans]
        props["$set"] = {"email": p["email"], "phone": p["phone"]}
        labels += [("properties.$set.email", 0, len(p["email"]), "EMAIL_ADDRESS"),
                   ("properties.$set.phone", 0, len(p["phone"]), "PHONE_NUMBER")]
        return ev, labels

    # -- Mixpanel ------------------------------------------------------------------------
    def mixpanel_event(self) -> tuple[dict, list[Label]]:
        r, labels = self.r, []
        p = self.person()
        props: dict = {"time": 1763800000 + r.randint(0, 10**6), "$insert_id": self.token(32),
                       "mp_lib": "web", "$browser": "Safari", "$city": "Portland"}
        if r.random() < 0.3:
            props.update(distinct_id=self.uuid(), **{"$current_url": "https://app.telecare.health/dashboard"})
            return {"event": "Dashboard Viewed", "properties": props}, labels
        props["distinct_id"] = p["email"]
        labels.append(("properties.distinct_id", 0, len(p["email"]), "EMAIL_ADDRESS"))
        props["$current_url"] = self.query("https://app.telecare.health/rx/refill",
                                           {"med": (p["medication"], "MEDICATION"), "dob": (p["dob"], "DATE_OF_BIRTH")},
                                           labels, "properties.$current_url")
        props["diagnosis"] = p["condition"]
        labels.append(("properties.diagnosis", 0, len(p["condition"]), "MEDICAL_CONDITION"))
        return {"event": "Refill Requested", "properties": props}, labels

    # -- GA4 -----------------------------------------------------------------------------
    def ga4_row(self) -> tuple[dict, list[Label]]:
        r, labels = self.r, []
        p = self.person()
        benign = r.random() < 0.3
        params: list[dict] = [{"key": "ga_session_id", "value": {"int_value": str(r.randint(10**8, 10**9))}}]
        if benign:
            params.append({"key": "page_location", "value": {"string_value": "https://app.telecare.health/pricing"}})
            params.append({"key": "page_title", "value": {"string_value": "Pricing | Telecare"}})
        else:
            i = len(params)
            url = self.query("https://app.telecare.health/appointments/confirm",
                             {"patient": (p["name"], "PERSON"), "phone": (p["phone"], "PHONE_NUMBER")},
                             labels, f"event_params[{i}].value.string_value")
            params.append({"key": "page_location", "value": {"string_value": url}})
            t = Text().add("Your ").plant(p["condition"], "MEDICAL_CONDITION").add(" visit is confirmed")
            params.append({"key": "page_title", "value": {"string_value": str(t)}})
            labels += [(f"event_params[{i + 1}].value.string_value", s, e, ent) for s, e, ent in t.spans]
        row = {"event_date": "20251122", "event_timestamp": str(1763800000000000 + r.randint(0, 10**12)),
               "event_name": "page_view", "event_params": params, "user_pseudo_id": f"{r.randint(10**9, 10**10)}.{r.randint(10**9, 10**10)}",
               "stream_id": "9876543210", "platform": "WEB",
               "device": {"category": "desktop", "web_info": {"browser": "Chrome", "hostname": "app.telecare.health"}},
               "geo": {"country": "United States", "region": "Oregon", "city": "Portland"}}
        if not benign:
            row["user_properties"] = [{"key": "patient_email", "value": {"string_value": p["email"],
                                                                         "set_timestamp_micros": "1763800000000000"}}]
            labels.append(("user_properties[0].value.string_value", 0, len(p["email"]), "EMAIL_ADDRESS"))
        return row, labels

    # -- Vercel Web Analytics --------------------------------------------------------------
    def vercel_analytics(self) -> tuple[dict, list[Label]]:
        r, labels = self.r, []
        p = self.person()
        rec = {"schema": "vercel.analytics.v1", "eventType": "event", "eventName": "intake_submitted",
               "timestamp": 1763800000000 + r.randint(0, 10**9), "projectId": "prj_7Hq2kLmN4pQrS8tUvWxYz0aBcDe",
               "ownerId": "team_" + self.token(24), "dataSourceName": "web-analytics", "sessionId": r.randint(1, 10**6),
               "deviceId": r.randint(1, 10**6), "origin": "https://app.telecare.health", "path": "/intake",
               "route": "/intake", "country": "US", "osName": "Mac", "clientName": "Chrome"}
        if r.random() < 0.3:
            rec.update(eventType="pageview", eventName=None, path="/pricing", route="/pricing")
            return rec, labels
        t = Text().add('{"condition":"').plant(p["condition"], "MEDICAL_CONDITION").add('","email":"').plant(
            p["email"], "EMAIL_ADDRESS").add('"}')
        rec["eventData"] = str(t)
        labels += [("eventData", s, e, ent) for s, e, ent in t.spans]
        q = Text().add("utm_source=sms&name=").plant(quote(p["name"]).replace("%20", "+"), "PERSON")
        rec["queryParams"] = str(q)
        labels += [("queryParams", s, e, ent) for s, e, ent in q.spans]
        return rec, labels
