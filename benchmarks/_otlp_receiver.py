"""A loopback OTLP/HTTP trace receiver for the benchmarks: accepts, counts and discards.

It stands in for a Collector the way a real one meets an exporter: HTTP/1.1 keep-alive,
`POST /v1/traces` with a protobuf `ExportTraceServiceRequest` (gzip or not), answered with an
empty `ExportTraceServiceResponse`. Every request body is decoded, so a malformed export
fails loudly (400) instead of being counted. `GET /stats` returns what arrived, as JSON.

    python benchmarks/_otlp_receiver.py PORT
"""

from __future__ import annotations

import gzip
import json
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

_EMPTY_RESPONSE = ExportTraceServiceResponse().SerializeToString()


class _Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.spans = 0
        self.bytes = 0
        self.rejected = 0

    def as_dict(self) -> dict[str, int]:
        with self.lock:
            return {
                "requests": self.requests,
                "spans": self.spans,
                "bytes": self.bytes,
                "rejected": self.rejected,
            }


STATS = _Stats()


def count_spans(body: bytes) -> int:
    """Spans in one serialized ExportTraceServiceRequest (raises when it is not one)."""
    request = ExportTraceServiceRequest.FromString(body)
    return sum(len(scope.spans) for rs in request.resource_spans for scope in rs.scope_spans)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return None

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/stats":
            self._reply(200, json.dumps(STATS.as_dict()).encode(), "application/json")
        else:
            self._reply(404, b"", "text/plain")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        encoding = (self.headers.get("Content-Encoding") or "").lower()
        try:
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            if self.path != "/v1/traces":
                raise ValueError(f"unexpected path {self.path}")
            spans = count_spans(body)
        except Exception as exc:
            with STATS.lock:
                STATS.rejected += 1
            self._reply(400, repr(exc).encode(), "text/plain")
            return
        with STATS.lock:
            STATS.requests += 1
            STATS.spans += spans
            STATS.bytes += len(body)
        self._reply(200, _EMPTY_RESPONSE, "application/x-protobuf")


def main() -> None:
    port = int(sys.argv[1])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
