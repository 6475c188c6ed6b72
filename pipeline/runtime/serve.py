"""`phiscan serve`: HTTP ingest that stops PHI before anything is stored or forwarded.

The routes live in `pipeline.runtime.http` (one module per vendor); this module keeps
the entry points the CLI, the tests and the benchmarks import.
"""

from pipeline.runtime.http.app import Ingest, create_app, serve, signature_ok
from pipeline.runtime.http.sentry import dsn_parts

__all__ = ["Ingest", "create_app", "dsn_parts", "serve", "signature_ok"]
