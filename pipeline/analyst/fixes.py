"""Fix suggestions per offender: the concrete change that stops the leak at its source.

Suggestions name field paths and entity types, never values. They are written
for the stack phiscan watches: pino `redact` paths (or a logger wrapper) for
Vercel drain messages, Sentry server-side scrubbing rules and `beforeSend` for
Sentry events, source-level property filters for Segment, PostHog, Mixpanel and
GA4, and query-string hygiene wherever a URL carries the value.
"""

from __future__ import annotations

from core.paths import parse

URL_FIELDS = ("path", "url", "referer", "referrer", "current_url", "page_location", "queryParams", "search")


def _dotted(field_path: str) -> str:
    """A JS-style dotted path (`request.data.email`); list indexes become `*`."""
    try:
        parts = parse(field_path)
    except ValueError:
        return field_path
    return ".".join("*" if isinstance(p, int) else str(p) for p in parts)


def suggest(source: str, field_path: str, entity_type: str, field_key: str | None = None) -> str:
    """One remediation line for an offender (source, field path, entity type)."""
    dotted = _dotted(field_path)
    leaf = (field_key or dotted.rsplit(".", 1)[-1]).lstrip("$")
    in_url = any(u.lower() in dotted.lower() for u in URL_FIELDS)
    if in_url:
        url_fix = (f"stop putting {entity_type} in URLs: send `{field_key or leaf}` in a POST body or keep it "
                   f"server-side; ")
    else:
        url_fix = ""
    if source == "vercel":
        if field_path == "message":
            target = f"'*.{field_key}', '{field_key}'" if field_key else "the logged object's fields"
            return (f"{url_fix}Next.js logging: stop logging request bodies; with pino set "
                    f"`redact: {{ paths: [{target}], censor: '[REDACTED]' }}` (or wrap console.log with phiscan scrub)")
        if field_path.startswith("proxy.") or field_path == "path":
            return (f"{url_fix}Vercel drain: route the drain through `phiscan serve` (/ingest/vercel) with scrubbing, "
                    f"or disable IP Address Visibility for {entity_type} in proxy fields")
        return f"Vercel drain: scrub `{dotted}` before it leaves the app"
    if source == "sentry":
        return (f"{url_fix}Sentry: add an Advanced Data Scrubbing rule `[Remove] [{_sentry_class(entity_type)}] from "
                f"[{dotted}]` in project settings, and in `beforeSend(event)` delete `event.{dotted}`; "
                f"keep `sendDefaultPii: false`")
    if source in ("segment", "posthog", "mixpanel"):
        tool = {"segment": "Segment: add a Protocols/Destination filter dropping the property",
                "posthog": "PostHog: add `property_denylist`/`sanitize_properties` dropping",
                "mixpanel": "Mixpanel: set `property_blacklist` (or strip in your track wrapper) for"}[source]
        return f"{url_fix}{tool} `{dotted}` ({entity_type})"
    if source == "ga4":
        return (f"{url_fix}GA4: do not send `{field_key or leaf}` as an event parameter or user property; redact "
                f"query strings from page_location in the tag (GTM variable) before collection")
    if source.startswith("vercel-"):
        return f"{url_fix}Vercel Web Analytics: drop `{dotted}` from custom event data (track() payload)"
    return f"{url_fix}remove `{dotted}` ({entity_type}) before it is logged"


def _sentry_class(entity_type: str) -> str:
    return {"CREDIT_CARD": "Credit card numbers", "US_SSN": "US social numbers", "IP_ADDRESS": "IP addresses",
            "EMAIL_ADDRESS": "Email addresses", "PRIVATE_KEY": "PEM keys", "AUTH_TOKEN": "Auth in URLs",
            "CREDENTIAL": "Passwords", "API_KEY": "Password-like fields"}.get(entity_type, "Anything")
