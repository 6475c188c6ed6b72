"""Analytics scrubbing proxies (PostHog, Segment, Mixpanel)."""

from __future__ import annotations


def routes(cfg) -> list:
    return []
