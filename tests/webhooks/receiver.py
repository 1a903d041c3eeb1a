"""A real HTTP(S) webhook receiver for tests: uvicorn on a free 127.0.0.1 port in a thread.

It records every request (method, path, headers, body, time) and answers from a
script of `Reply` values, one per request, then the default reply:

    receiver.script(Reply(429, headers={"retry-after": "7"}), Reply(200))
    result = await attempt_delivery(..., url=receiver.url("/hook"), ...)
    [request] = receiver.requests

A reply can wait (`delay`), never answer (`hang`), stream a large body
(`body_size`) or redirect (`headers={"location": ...}`). Run on its own as
`python -m tests.webhooks.receiver --port N` for benchmarks (one process apart).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

_CHUNK = b"x" * 65536
_HANG_SECONDS = 3600.0


@dataclass(frozen=True)
class Reply:
    """How the receiver answers one request."""

    status: int = 204
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    body_size: int = 0
    delay: float = 0.0
    hang: bool = False


@dataclass(frozen=True)
class Received:
    """One request as it arrived."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float
    client: str
    client_port: int


@dataclass
class ReplyLog:
    """How far each streamed body got before the client went away."""

    body_bytes_sent: int = 0
    completed: bool = False


class Receiver:
    """A recording, scriptable webhook receiver on 127.0.0.1 (or another local address)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        certfile: Path | None = None,
        keyfile: Path | None = None,
    ) -> None:
        self.host = host
        self._family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(self._family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        self.scheme = "https" if certfile else "http"
        self._lock = threading.Lock()
        self._script: deque[Reply] = deque()
        self._requests: list[Received] = []
        self._logs: list[ReplyLog] = []
        self.default = Reply()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._release: asyncio.Event | None = None
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            interface="asgi3",
            proxy_headers=False,
            ssl_certfile=str(certfile) if certfile else None,
            ssl_keyfile=str(keyfile) if keyfile else None,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="webhook-receiver", daemon=True)

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> Receiver:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the webhook receiver did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._release is not None:
            self._loop.call_soon_threadsafe(self._release.set)  # end every hanging reply
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        self._server.run(sockets=[self._socket])

    # -- test API ------------------------------------------------------------
    def url(self, path: str = "/hook", *, host: str | None = None) -> str:
        name = host or self.host
        authority = f"[{name}]" if ":" in name else name
        return f"{self.scheme}://{authority}:{self.port}{path}"

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order."""
        with self._lock:
            self._script.extend(replies)

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    @property
    def reply_logs(self) -> list[ReplyLog]:
        with self._lock:
            return list(self._logs)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._logs.clear()
            self._script.clear()

    # -- the ASGI application --------------------------------------------------
    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        client = scope.get("client") or ("", 0)
        received = Received(
            method=scope["method"],
            path=scope["path"]
            + (f"?{scope['query_string'].decode()}" if scope["query_string"] else ""),
            headers={
                name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
            },
            body=b"".join(chunks),
            received_at=time.time(),
            client=str(client[0]),
            client_port=int(client[1]),
        )
        log = ReplyLog()
        with self._lock:
            self._requests.append(received)
            self._logs.append(log)
            reply = self._script.popleft() if self._script else self.default
        if reply.hang or reply.delay:
            await self._pause(_HANG_SECONDS if reply.hang else reply.delay)
        headers = [(name.lower().encode(), value.encode()) for name, value in reply.headers.items()]
        if reply.body_size:
            await self._stream(send, reply, headers, log)
            return
        headers.append((b"content-length", str(len(reply.body)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})
        log.body_bytes_sent = len(reply.body)
        log.completed = True

    async def _pause(self, seconds: float) -> None:
        """Wait `seconds`, or until the receiver stops."""
        if self._release is None:
            self._loop = asyncio.get_running_loop()
            self._release = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._release.wait(), seconds)

    async def _stream(self, send: Any, reply: Reply, headers: list, log: ReplyLog) -> None:
        headers.append((b"content-length", str(reply.body_size).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        remaining = reply.body_size
        try:
            while remaining > 0:
                piece = _CHUNK[: min(remaining, len(_CHUNK))]
                remaining -= len(piece)
                await send(
                    {"type": "http.response.body", "body": piece, "more_body": remaining > 0}
                )
                log.body_bytes_sent += len(piece)
        except OSError:
            return  # the client went away, as a capped reader should
        log.completed = True


def main() -> None:
    parser = argparse.ArgumentParser(description="A local webhook receiver answering 204.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    receiver = Receiver(host=args.host, port=args.port).start()
    print(receiver.port, flush=True)  # noqa: T201 - the benchmark reads the port here
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        receiver.stop()


if __name__ == "__main__":
    main()
