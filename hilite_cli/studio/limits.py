"""How much a request may send: bodies are counted as they stream in, and reading stops at the limit.

Starlette reads a body whole when asked (`request.body()`, and a chunked upload has no
Content-Length to refuse up front), so the limit sits under the app, on the ASGI `receive`: a
declared length over the limit is refused before any byte is read, and a streamed body is refused
the moment it passes the limit. Either way the answer is a 413 with a JSON `error`.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    """Raised from `receive` once a body passes its limit; BodyLimit turns it into a 413."""


class BodyLimit:
    """Multipart bodies (uploads) up to `upload_bytes`, every other body up to `other_bytes`."""

    def __init__(self, app: ASGIApp, *, upload_bytes: int, other_bytes: int) -> None:
        self.app = app
        self.upload_bytes = upload_bytes
        self.other_bytes = other_bytes

    def limit_for(self, headers: Headers) -> int:
        multipart = headers.get("content-type", "").lower().startswith("multipart/form-data")
        return self.upload_bytes if multipart else self.other_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self.limit_for(headers)
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(limit)(scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(limit)(scope, receive, send)


def _refuse(limit: int) -> JSONResponse:
    # Connection: close, so the server does not read the rest of the body to reuse the connection.
    return JSONResponse({"error": f"request body larger than {limit} bytes (configs/studio.toml)"},
                        status_code=413, headers={"Connection": "close"})
