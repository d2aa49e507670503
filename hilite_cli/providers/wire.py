"""The HTTP exchange under both SDKs: a deadline for each whole attempt, and the reply body kept.

httpx bounds each read, not the request, so a server trickling one byte per second keeps a call
open as long as it likes. Event hooks on the SDK's own httpx2 client (so its proxy and TLS settings
stay as they are) start a deadline when a request is sent and wrap each response's stream: past the
deadline a timer shuts the socket and the stream raises httpx2's ReadTimeout, which both SDKs
already map to their timeout error. The stream also keeps the first bytes of the body for the
calling thread, so a 200 that is not the SDK's JSON (a proxy's HTML page, an empty body) reaches
the answer as `raw` instead of being lost in an exception.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx2

# How much of a reply body an answer keeps as `raw` when the body is not what the SDK expects.
KEPT_BODY_BYTES = 64 * 1024
# What an SDK raises while it reads a 200 body that is not its JSON (not JSON, wrong types, nested too deep).
READ_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, AttributeError, KeyError, IndexError,
                                                RecursionError)
_DEADLINE = "hilite_deadline"


class Wire:
    """Per-provider hooks; `body()` is the calling thread's latest reply body (sync SDK calls run in it)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._local = threading.local()

    def event_hooks(self) -> dict[str, list[Any]]:
        """The `event_hooks` argument for an httpx2 client."""
        return {"request": [self._on_request], "response": [self._on_response]}

    def body(self) -> str | None:
        """The reply body of this thread's last request (decoded, at most KEPT_BODY_BYTES), None if none came."""
        data = getattr(self._local, "body", None)
        return None if data is None else bytes(data).decode("utf-8", errors="replace")

    def _on_request(self, request: httpx2.Request) -> None:
        self._local.body = None
        request.extensions = {**request.extensions, _DEADLINE: time.monotonic() + self.timeout}

    def _on_response(self, response: httpx2.Response) -> None:
        deadline = response.request.extensions.get(_DEADLINE)
        if deadline is None:
            return
        self._local.body = bytearray()
        response.stream = _DeadlineStream(response, deadline, self.timeout, self._local.body)


class _DeadlineStream(httpx2.SyncByteStream):
    """A response body that ends with ReadTimeout once the attempt's deadline has passed."""

    def __init__(self, response: httpx2.Response, deadline: float, timeout: float, kept: bytearray) -> None:
        self._inner = response.stream
        self._request = response.request
        self._deadline = deadline
        self._timeout = timeout
        self._kept = kept
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), _shut, (response,))
        self._timer.daemon = True
        self._timer.start()

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._inner:
                self._check()
                if len(self._kept) < KEPT_BODY_BYTES:
                    self._kept.extend(chunk[: KEPT_BODY_BYTES - len(self._kept)])
                yield chunk
        except httpx2.TransportError:
            self._check()  # the timer shut the socket: say timeout, not "connection closed"
            raise
        finally:
            self._timer.cancel()

    def _check(self) -> None:
        if time.monotonic() >= self._deadline:
            raise httpx2.ReadTimeout(
                f"the reply did not finish within the {self._timeout:g} s deadline", request=self._request
            )

    def close(self) -> None:
        self._timer.cancel()
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


def describe(exc: BaseException) -> str:
    """The first line of an SDK's error about a reply it could not read, for an answer's reason."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:200]}"


def _shut(response: httpx2.Response) -> None:
    """Unblock a read that is waiting on a trickling server by shutting the connection's socket."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed: the read has ended anyway
