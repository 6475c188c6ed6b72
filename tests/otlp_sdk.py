"""Real OTLP payloads, made by the OpenTelemetry SDK's own OTLP/HTTP exporters (not by phiscan's codec).

`Recorder` is a loopback OTLP/HTTP endpoint that keeps every request (path, headers,
body); `emit` sends spans, and log records inside them, through the SDK to any
endpoint, so tests get the exact protobuf bytes a real service sends.
"""

from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Recorder:
    """A local HTTP server recording what it receives; answers `status` (200 by default)."""

    def __init__(self, status: int = 200):
        self.requests: list[tuple[str, dict, bytes]] = []
        self.status = status
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                outer.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.status)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def bodies(self, path: str) -> list[bytes]:
        return [body for p, _, body in self.requests if p == path]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def emit(endpoint: str, items: list[tuple[str, dict, str, dict]], *, gzip_body: bool = False,
         service: str = "telecare-api") -> tuple[bool, bool]:
    """Spans `(name, span attributes, log message, log attributes)`, each with one log record in it.

    Sent through `OTLPSpanExporter` / `OTLPLogExporter` to `endpoint` + `/v1/traces` and
    `/v1/logs`; returns whether each export succeeded (as the SDK saw it).
    """
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    compression = Compression.Gzip if gzip_body else Compression.NoCompression
    resource = Resource.create({"service.name": service, "deployment.environment": "test"})
    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    tracer = tracer_provider.get_tracer("telecare.http", "1.0.0")
    logger = logger_provider.get_logger("telecare.app", "1.0.0")
    for name, span_attrs, message, log_attrs in items:
        with tracer.start_as_current_span(name, attributes=span_attrs):
            logger.emit(body=message, attributes=log_attrs, severity_text="INFO")
    tracer_provider.shutdown()
    logger_provider.shutdown()
    span_exporter = OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", compression=compression, timeout=10)
    log_exporter = OTLPLogExporter(endpoint=f"{endpoint}/v1/logs", compression=compression, timeout=10)
    try:
        return (span_exporter.export(spans.get_finished_spans()).name == "SUCCESS",
                log_exporter.export(logs.get_finished_logs()).name == "SUCCESS")
    finally:
        span_exporter.shutdown()
        log_exporter.shutdown()
