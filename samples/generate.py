"""Seeded generator of a Vercel log-drain corpus of a Next.js telehealth app, with labels.

    python -m samples.generate --out samples/generated --events 2000 --seed 7

Writes drain files in every layout the connector reads (NDJSON, a JSON array,
gzip NDJSON) and `labels.jsonl`: one `event` line per record and one `label`
line per planted value (event id, field path, raw span, entity type). Values are
invented; the mix follows FORMATS.md's PHI hotspots: console.log lines and
request bodies in `message`, URL-encoded query strings in `proxy.path` and
`proxy.referer`, JSON and util.inspect objects inside strings, and secrets
printed at start-up. Benign lines carry look-alikes: hashes, ids, versions,
durations, timestamps, regions and component names.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from samples import vocab as V


@dataclass
class Text:
    """A string built from pieces, remembering the span of every planted value."""

    parts: list[str] = field(default_factory=list)
    spans: list[tuple[int, int, str]] = field(default_factory=list)
    length: int = 0

    def add(self, s: str) -> Text:
        self.parts.append(s)
        self.length += len(s)
        return self

    def plant(self, s: str, entity: str) -> Text:
        self.spans.append((self.length, self.length + len(s), entity))
        return self.add(s)

    def __str__(self) -> str:
        return "".join(self.parts)


@dataclass(frozen=True)
class P:
    """A planted value inside a JSON object or query string."""

    value: str
    entity: str


def json_into(t: Text, obj: dict, inspect_style: bool = False) -> None:
    """Write `obj` as compact JSON (or node util.inspect style) into `t`, planting P values."""
    t.add("{ " if inspect_style else "{")
    for i, (k, v) in enumerate(obj.items()):
        if i:
            t.add(", " if inspect_style else ",")
        t.add(f"{k}: " if inspect_style else f'"{k}":')
        q = "'" if inspect_style else '"'
        if isinstance(v, dict):
            json_into(t, v, inspect_style)
        elif isinstance(v, P):
            t.add(q).plant(v.value, v.entity).add(q)
        elif isinstance(v, (int, float, bool)):
            t.add(json.dumps(v))
        else:
            t.add(q + str(v) + q)
    t.add(" }" if inspect_style else "}")


def query_into(t: Text, path: str, params: dict) -> None:
    """A path with a URL-encoded query string; planted spans cover the encoded text."""
    t.add(path + "?")
    for i, (k, v) in enumerate(params.items()):
        if i:
            t.add("&")
        t.add(f"{k}=")
        if isinstance(v, P):
            t.plant(quote(v.value, safe="").replace("%20", "+"), v.entity)
        else:
            t.add(quote(str(v), safe=""))


class Corpus:
    def __init__(self, seed: int):
        self.r = random.Random(seed)
        self.t0 = 1763800000000
        self.n = 0

    # -- invented people and secrets ---------------------------------------------------
    def person(self) -> dict:
        r = self.r
        first, last = r.choice(V.FIRST_NAMES), r.choice(V.LAST_NAMES)
        y, m, d = r.randint(1940, 2006), r.randint(1, 12), r.randint(1, 28)
        return {
            "first": first, "last": last, "name": f"{first} {last}",
            "email": f"{first.lower()}.{last.lower()}{r.randint(1, 99)}@{r.choice(V.EMAIL_DOMAINS)}",
            "phone": r.choice(["({a}) {b}-{c}", "{a}-{b}-{c}", "+1 {a} {b} {c}"]).format(
                a=r.randint(201, 989), b=r.randint(200, 999), c=f"{r.randint(0, 9999):04d}"),
            "dob": r.choice([f"{y}-{m:02d}-{d:02d}", f"{m:02d}/{d:02d}/{y}"]),
            "ssn": f"{r.randint(100, 665)}-{r.randint(10, 99)}-{r.randint(1000, 9999)}",
            "mrn": r.choice([f"MRN-{r.randint(100000, 99999999)}", f"{r.randint(10000000, 99999999)}"]),
            "member": f"{r.choice(['XKH', 'BCB', 'UHC', 'AET'])}{r.randint(100000000, 999999999)}",
            "address": f"{r.randint(10, 9999)} {r.choice(V.STREETS)} {r.choice(V.SUFFIXES)}, "
                       f"{r.choice(V.CITIES)}, {r.choice(V.STATES)} {r.randint(10000, 99999)}",
            "condition": r.choice(V.CONDITIONS), "medication": r.choice(V.MEDICATIONS),
            "icd": r.choice(V.ICD10),
        }

    def card(self) -> str:
        return self.r.choice(V.TEST_CARDS)

    def ip(self) -> str:
        r = self.r
        return f"{r.choice([23, 34, 52, 64, 73, 98, 104, 120, 172, 185])}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"

    def token(self, n: int, alphabet: str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") -> str:
        return "".join(self.r.choice(alphabet) for _ in range(n))

    def secret(self) -> tuple[str, str, str]:
        """(log line prefix, secret value, entity type)."""
        r, tok = self.r, self.token
        kind = r.randrange(9)
        if kind == 0:
            return "Stripe client initialised with key ", "sk_live_" + tok(32), "API_KEY"
        if kind == 1:
            return "env OPENAI_API_KEY=", "sk-proj-" + tok(48), "API_KEY"
        if kind == 2:
            return "AWS credentials loaded: accessKeyId=", "AKIA" + tok(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), "API_KEY"
        if kind == 3:
            return "GitHub sync using token ", "ghp_" + tok(36), "API_KEY"
        if kind == 4:
            head = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
            return "auth header Authorization: Bearer ", f"{head}.eyJ{tok(40)}.{tok(43)}", "AUTH_TOKEN"
        if kind == 5:
            return "set-cookie next-auth.session-token=", tok(48), "AUTH_TOKEN"
        if kind == 6:
            return "SendGrid mailer ready key=", f"SG.{tok(22)}.{tok(43)}", "API_KEY"
        if kind == 7:
            return "Slack alert via token ", f"xoxb-{r.randint(10**10, 10**11)}-{tok(24)}", "API_KEY"
        return "google maps key ", "AIza" + tok(35), "API_KEY"

    # -- drain records -----------------------------------------------------------------
    def base(self, source: str = "lambda") -> dict:
        self.n += 1
        r = self.r
        ts = self.t0 + self.n * r.randint(50, 900)
        return {
            "id": f"{ts}{r.randint(10**13, 10**14 - 1)}", "deploymentId": "dpl_" + self.token(28),
            "source": source, "host": "telecare-web-" + self.token(9).lower() + ".vercel.app", "timestamp": ts,
            "projectId": "prj_7Hq2kLmN4pQrS8tUvWxYz0aBcDe", "projectName": "telecare-web", "level": "info",
            "environment": "production", "executionRegion": r.choice(["iad1", "sfo1", "cle1"]),
        }

    def request(self, rec: dict, labels: list, path_text: Text, status: int = 200) -> None:
        r = self.r
        proxy = {"timestamp": rec["timestamp"] - r.randint(5, 90), "method": r.choice(["GET", "POST"]),
                 "host": "app.telecare.health", "path": str(path_text), "userAgent": [r.choice(V.USER_AGENTS)],
                 "region": rec["executionRegion"], "statusCode": status, "scheme": "https",
                 "vercelCache": r.choice(["MISS", "HIT", "BYPASS"]), "pathType": "func"}
        for s, e, ent in path_text.spans:
            labels.append(("proxy.path", s, e, ent))
        if r.random() < 0.5:
            ip = self.ip()
            proxy["clientIp"] = ip
            labels.append(("proxy.clientIp", 0, len(ip), "IP_ADDRESS"))
        if r.random() < 0.3:
            proxy["referer"] = "https://app.telecare.health" + r.choice(V.ROUTES)
        rec["proxy"] = proxy
        rec["requestId"] = self.token(8).lower() + "-" + self.token(4).lower()
        rec["path"] = path_text.parts[0].split("?")[0] if path_text.parts else "/"

    def message(self, rec: dict, labels: list, t: Text) -> None:
        rec["message"] = str(t)
        for s, e, ent in t.spans:
            labels.append(("message", s, e, ent))

    def record(self) -> tuple[dict, list[tuple[str, int, int, str]]]:
        r = self.r
        labels: list[tuple[str, int, int, str]] = []
        roll = r.random()
        if roll < 0.30:  # benign request log line
            rec = self.base()
            route = r.choice(V.ROUTES)
            self.request(rec, labels, Text().add(route + r.choice(["", "?page=2", "?tab=upcoming", "?v=3"])))
            self.message(rec, labels, Text().add(r.choice(V.BENIGN_REQUEST).format(
                route=route, ms=r.randint(3, 2400), n=r.randint(1, 500), h=self.token(16, "0123456789abcdef"))))
        elif roll < 0.45:  # build / static / edge chatter
            rec = self.base(r.choice(["build", "static", "edge"]))
            self.message(rec, labels, Text().add(r.choice(V.BENIGN_BUILD).format(
                s=round(r.uniform(0.5, 90), 1), kb=round(r.uniform(0.1, 300), 1), h=self.token(12, "0123456789abcdef"),
                v=f"{r.randint(12, 15)}.{r.randint(0, 5)}.{r.randint(0, 30)}", n=r.randint(2, 400))))
            if rec["source"] == "build":
                rec["buildId"] = "bld_" + self.token(9).lower()
        elif roll < 0.85:  # console.log with PHI
            rec = self.base()
            p = self.person()
            route = r.choice(V.PHI_ROUTES)
            self.request(rec, labels, Text().add(route), status=r.choice([200, 201, 400, 500]))
            self.message(rec, labels, self.phi_message(p))
            rec["level"] = r.choice(["info", "info", "warning", "error"])
        elif roll < 0.93:  # URL-encoded PHI in the query string
            rec = self.base()
            p = self.person()
            kind = r.randrange(3)
            t = Text()
            if kind == 0:
                query_into(t, "/api/patients/search", {"email": P(p["email"], "EMAIL_ADDRESS"),
                                                         "dob": P(p["dob"], "DATE_OF_BIRTH")})
            elif kind == 1:
                query_into(t, "/intake/start", {"name": P(p["name"], "PERSON"), "phone": P(p["phone"], "PHONE_NUMBER"),
                                                "step": "2"})
            else:
                query_into(t, "/api/labs/results", {"mrn": P(p["mrn"], "MEDICAL_RECORD_NUMBER"),
                                                    "condition": P(p["condition"], "MEDICAL_CONDITION")})
            self.request(rec, labels, t)
            self.message(rec, labels, Text().add(f"GET {t.parts[0].split('?')[0]} {r.choice([200, 304])}"))
        else:  # secrets printed into logs
            rec = self.base()
            prefix, value, entity = self.secret()
            if r.random() < 0.3:
                prefix, value, entity = "prisma: connecting to ", None, "CREDENTIAL"
                pw = self.token(14)
                t = Text().add(prefix + "postgresql://telecare_app:").plant(pw, "CREDENTIAL").add(
                    "@db-prod.internal.telecare.health:5432/telecare?sslmode=require")
            else:
                t = Text().add(prefix).plant(value, entity)
            self.message(rec, labels, t)
        return rec, labels

    def phi_message(self, p: dict) -> Text:
        r = self.r
        t = Text()
        kind = r.randrange(10)
        if kind == 0:
            t.add("Creating appointment for patient ").plant(p["name"], "PERSON").add(" (DOB ").plant(
                p["dob"], "DATE_OF_BIRTH").add(") with provider id ").add(str(r.randint(1000, 9999)))
        elif kind == 1:
            t.add("Request body: ")
            json_into(t, {"firstName": P(p["first"], "PERSON"), "lastName": P(p["last"], "PERSON"),
                          "email": P(p["email"], "EMAIL_ADDRESS"), "dob": P(p["dob"], "DATE_OF_BIRTH"),
                          "phone": P(p["phone"], "PHONE_NUMBER"), "insuranceMemberId": P(p["member"], "HEALTH_PLAN_ID"),
                          "consent": True})
        elif kind == 2:
            t.add("intake payload ")
            json_into(t, {"patientId": P(p["mrn"], "MEDICAL_RECORD_NUMBER"), "name": P(p["name"], "PERSON"),
                          "ssn": P(p["ssn"], "US_SSN"), "visitReason": P(p["condition"], "MEDICAL_CONDITION")},
                      inspect_style=True)
        elif kind == 3:
            json_into(t, {"level": 30, "time": 1763800000000 + r.randint(0, 10**6), "msg": "intake submitted",
                          "patient": {"email": P(p["email"], "EMAIL_ADDRESS"),
                                      "address": P(p["address"], "STREET_ADDRESS")}})
        elif kind == 4:
            t.add("Stripe charge failed for card ").plant(self.card(), "CREDIT_CARD").add(
                f": card_declined (request req_{self.token(14)})")
        elif kind == 5:
            t.add("Prescription ").plant(p["medication"], "MEDICATION").add(" sent for ").plant(
                p["name"], "PERSON").add(" by Dr. ").plant(r.choice(V.LAST_NAMES), "PERSON").add(" NPI ").plant(
                r.choice(V.NPIS), "US_NPI").add(" DEA ").plant(r.choice(V.DEAS), "US_DEA")
        elif kind == 6:
            t.add("PrismaClientKnownRequestError: Unique constraint failed on the fields: (`email`) value ").plant(
                p["email"], "EMAIL_ADDRESS")
        elif kind == 7:
            t.add("Lab result ready for MRN ").plant(p["mrn"], "MEDICAL_RECORD_NUMBER").add(": diagnosis ").plant(
                p["icd"], "ICD10_CODE").add(" (").plant(p["condition"], "MEDICAL_CONDITION").add(")")
        elif kind == 8:
            t.add("SMS reminder queued to ").plant(p["phone"], "PHONE_NUMBER").add(" for ").plant(
                p["name"], "PERSON").add(" at ").plant(p["address"], "STREET_ADDRESS")
        else:
            t.add("eligibility check member id: ").plant(p["member"], "HEALTH_PLAN_ID").add(" ssn=").plant(
                p["ssn"], "US_SSN").add(" result=eligible")
        return t


def generate(n: int, seed: int) -> Iterator[tuple[dict, list[tuple[str, int, int, str]]]]:
    corpus = Corpus(seed)
    for _ in range(n):
        yield corpus.record()


def write_corpus(out: Path, n: int, seed: int) -> dict[str, int]:
    """Write drain files and labels.jsonl under `out`; returns counts."""
    out.mkdir(parents=True, exist_ok=True)
    records = list(generate(n, seed))
    cut1, cut2 = int(n * 0.8), int(n * 0.9)
    files = {"drains/lambda.ndjson": records[:cut1], "drains/edge.json": records[cut1:cut2],
             "drains/archive.ndjson.gz": records[cut2:]}
    labels = 0
    with open(out / "labels.jsonl", "w", encoding="utf-8") as lab:
        for name, chunk in files.items():
            path = out / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if name.endswith(".json"):
                path.write_text(json.dumps([rec for rec, _ in chunk], indent=1), encoding="utf-8")
            else:
                body = "".join(json.dumps(rec, separators=(",", ":")) + "\n" for rec, _ in chunk)
                if name.endswith(".gz"):
                    path.write_bytes(gzip.compress(body.encode(), mtime=0))
                else:
                    path.write_text(body, encoding="utf-8")
            for rec, spans in chunk:
                lab.write(json.dumps({"kind": "event", "source": "vercel", "event_id": rec["id"]}) + "\n")
                for fp, s, e, ent in spans:
                    lab.write(json.dumps({"kind": "label", "source": "vercel", "event_id": rec["id"],
                                          "field_path": fp, "start": s, "end": e, "entity_type": ent}) + "\n")
                    labels += 1
    return {"events": n, "labels": labels}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("samples/generated"))
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--mixed", action="store_true", help="every vendor format, not only Vercel drains")
    args = ap.parse_args()
    if args.mixed:
        from samples.mixed import write_mixed

        counts = write_mixed(args.out, args.events, args.seed)
    else:
        counts = write_corpus(args.out, args.events, args.seed)
    print(f"wrote {counts['events']} events with {counts['labels']} planted values to {args.out}")


if __name__ == "__main__":
    main()
