"""`phiscan serve`'s HTTP routes: `app` (shared state, limits, CORS, metrics), `body` (streaming decode),
and one module per vendor: `vercel`, `sentry`, `analytics`."""
