"""A small HTTP/1.1 server (h11 over asyncio streams) for the admin API.

Hostile input is expected: malformed requests get `400 Bad Request` and the connection is
closed, headers are capped at 64 KiB (431), bodies at 1 MiB (413), a request must arrive
within 15 s and an idle keep-alive connection is closed after 60 s (Go's server timeouts),
and at most 256 API connections are served at once. A handler that raises answers 500; the
server itself never stops because of a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Final

import h11

log = logging.getLogger("chaos.proxy.api")

MAX_HEADER_BYTES: Final = 64 * 1024
MAX_BODY_BYTES: Final = 1024 * 1024
READ_TIMEOUT_S: Final = 15.0
IDLE_TIMEOUT_S: Final = 60.0
WRITE_TIMEOUT_S: Final = 30.0
MAX_CONNECTIONS: Final = 256


@dataclass
class Request:
    """One request: method, raw target, headers (lower-case names) and the whole body."""

    method: str
    target: bytes
    headers: list[tuple[str, str]]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of a header, if present."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)


@dataclass
class Response:
    """A complete response; Content-Length is added when sent."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


Handler = Callable[[Request], Awaitable[Response]]
Decorator = Callable[[Response], None]


def plain(status: int, text: str) -> Response:
    """A text/plain answer as Go's http.Error writes it (trailing newline, nosniff)."""
    return Response(
        status,
        (text + "\n").encode(),
        [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")],
    )


# Reason phrases as Go's net/http.StatusText writes them (Toxiproxy's status lines), for every
# status this server sends; Python's own phrases differ for some (413 is "Content Too Large"
# since 3.13).
_REASONS: Final = {
    100: "Continue",
    200: "OK",
    201: "Created",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    413: "Request Entity Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def reason(status: int) -> bytes:
    """The reason phrase of a status line: Go's wording, else Python's, else none."""
    text = _REASONS.get(status)
    if text is None:
        try:
            text = HTTPStatus(status).phrase
        except ValueError:
            text = ""
    return text.encode("ascii")


_PROTOCOL_ERRORS: Final = {
    400: "400 Bad Request",
    413: "413 Request Entity Too Large",
    431: "431 Request Header Fields Too Large",
}


class _Refused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class HttpServer:
    """Serves `handler` on a listening socket; `decorate` adds headers to every response."""

    def __init__(self, handler: Handler, decorate: Decorator) -> None:
        self._handler = handler
        self._decorate = decorate
        self._server: asyncio.Server | None = None
        self._clients: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    async def start(self, sock: socket.socket) -> None:
        """Begin serving on an already bound, listening socket."""
        self._server = await asyncio.start_server(self._accepted, sock=sock, limit=MAX_HEADER_BYTES)

    async def close(self) -> None:
        """Stop listening and drop every API connection."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in self._clients.values():
            writer.transport.abort()  # their reads end; each task finishes on its own
        if self._clients:
            _done, stuck = await asyncio.wait(list(self._clients), timeout=2.0)
            for task in stuck:
                task.cancel()

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is None or len(self._clients) >= MAX_CONNECTIONS:
            writer.close()
            return
        self._clients[task] = writer
        try:
            await self._serve(reader, writer)
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # close() cancels us; end normally, since asyncio's stream callback would log a
            # cancelled connection task as an error.
            pass
        except Exception:
            log.exception("API connection failed")
        finally:
            self._clients.pop(task, None)
            writer.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
        while True:
            try:
                request = await self._read(conn, reader, writer)
            except _Refused as refused:
                await self._send(
                    conn, writer, plain(refused.status, _PROTOCOL_ERRORS[refused.status]), b"GET"
                )
                return
            except h11.RemoteProtocolError as exc:
                status = exc.error_status_hint if exc.error_status_hint in _PROTOCOL_ERRORS else 400
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    await self._send(conn, writer, plain(status, _PROTOCOL_ERRORS[status]), b"GET")
                return
            if request is None:
                return
            try:
                response = await self._handler(request)
            except Exception:
                log.exception("API handler failed for %s %r", request.method, request.target)
                response = plain(500, '{"error":"internal server error","status":500}')
            await self._send(conn, writer, response, request.method.encode())
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()

    async def _read(
        self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Request | None:
        timeout = IDLE_TIMEOUT_S
        request: Request | None = None
        body = bytearray()
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                if deadline is not None:
                    timeout = max(0.0, deadline - loop.time())
                try:
                    async with asyncio.timeout(timeout):
                        data = await reader.read(65536)
                except TimeoutError:
                    return None
                if deadline is None:
                    deadline = loop.time() + READ_TIMEOUT_S
                conn.receive_data(data)
                continue
            if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return None
            if isinstance(event, h11.Request):
                # h11 bounds only what it buffers; a header block that came in whole is not.
                if sum(len(k) + len(v) + 4 for k, v in event.headers) > MAX_HEADER_BYTES:
                    raise _Refused(431)
                headers = [
                    (k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in event.headers
                ]
                request = Request(event.method.decode("latin-1"), bytes(event.target), headers)
                length = request.header("content-length")
                if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
                    raise _Refused(413)
                if conn.they_are_waiting_for_100_continue:
                    writer.write(
                        conn.send(
                            h11.InformationalResponse(
                                status_code=100, headers=[], reason=reason(100)
                            )
                        )
                        or b""
                    )
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY_BYTES:
                    raise _Refused(413)
            elif isinstance(event, h11.EndOfMessage):
                if request is None:
                    return None
                request.body = bytes(body)
                return request

    async def _send(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, response: Response, method: bytes
    ) -> None:
        self._decorate(response)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        if response.status not in (204, 304):
            headers.append((b"Content-Length", str(len(response.body)).encode()))
        if response.status >= 400 and response.status in _PROTOCOL_ERRORS:
            headers.append((b"Connection", b"close"))
        try:
            start = h11.Response(
                status_code=response.status, headers=headers, reason=reason(response.status)
            )
            out = conn.send(start) or b""
            if response.body and method != b"HEAD" and response.status not in (204, 304):
                out += conn.send(h11.Data(data=response.body)) or b""
            out += conn.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError:
            log.debug("could not frame a %d response", response.status)
            return
        writer.write(out)
        async with asyncio.timeout(WRITE_TIMEOUT_S):
            await writer.drain()
