"""Who gets in: the access token, rater tokens, and cross-site request forgery.

- With an access token (required off loopback), every request must carry it: `?token=` once (a
  cookie keeps it), a `Authorization: Bearer` header, or the cookie.
- A rater's personal token opens only the rating pages, and those serve only that rater's tasks.
- State-changing requests (POST) must send the page's CSRF token in `X-CSRF-Token`, equal to the
  HttpOnly cookie set with the page (double submit), and come from this host: `Origin` when the
  browser sends one, else `Sec-Fetch-Site: same-origin`, else a `Referer` on this host. A client
  that sends none of them is not a browser, and the CSRF token alone is its check.
- The Host names served are checked before all this (TrustedHostMiddleware, see app.py), so a page
  on another name that resolves to this address (DNS rebinding) is same-origin with nothing here.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp

from hilite_cli.store import Store
from hilite_cli.store.ratings import rater_for_token

TOKEN_COOKIE = "hilite_token"
CSRF_COOKIE = "hilite_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RATER_PATHS = ("/rate", "/api/rate", "/static/", "/favicon.ico")


@dataclass(frozen=True)
class Visitor:
    """The studio's owner (`admin`), or one rater (by name)."""

    admin: bool
    rater: str | None = None


def _presented(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.query_params.get("token") or request.cookies.get(TOKEN_COOKIE)


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


def _rater_path(path: str) -> bool:
    return any(path == p or path.startswith(p if p.endswith("/") else p + "/") for p in RATER_PATHS)


def _same_host(url: str, host: str) -> bool:
    """`url`'s authority is `host` (scheme://host[:port]/…); `null` and malformed values are not."""
    scheme, sep, rest = url.partition("://")
    return bool(sep) and scheme in ("http", "https") and rest.split("/", 1)[0].lower() == host.lower()


def _origin_ok(request: Request) -> bool:
    """The write comes from a page of this studio, by the best evidence the browser sends."""
    headers = request.headers
    host = headers.get("host", "")
    if "origin" in headers:
        return _same_host(headers["origin"], host)
    if "sec-fetch-site" in headers:
        return headers["sec-fetch-site"] == "same-origin"
    if "referer" in headers:
        return _same_host(headers["referer"], host)
    return True


class AccessMiddleware(BaseHTTPMiddleware):
    def __init__(self, app: ASGIApp, store: Store, token: str | None) -> None:
        super().__init__(app)
        self.store = store
        self.token = token

    def _visitor(self, presented: str | None) -> Visitor | None:
        """With an access token, a rater's token is a rater and nothing more; without one (loopback),
        whoever is local owns the studio, and a rater token only says whose tasks /rate shows."""
        if _same(presented, self.token):
            return Visitor(admin=True)
        rater = rater_for_token(self.store, presented) if presented else None
        if self.token is None:
            return Visitor(admin=True, rater=rater)
        return Visitor(admin=False, rater=rater) if rater is not None else None

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        presented = _presented(request)
        visitor = self._visitor(presented)
        path = request.url.path
        if visitor is None:
            return PlainTextResponse("hilite studio: a valid token is required (open /?token=…)", status_code=401)
        if not visitor.admin and not _rater_path(path):
            return PlainTextResponse("hilite studio: a rater token opens only the rating pages", status_code=403)
        csrf = request.cookies.get(CSRF_COOKIE)
        if request.method not in SAFE_METHODS:
            if not _origin_ok(request):
                return JSONResponse({"error": "cross-origin request refused"}, status_code=403)
            if not _same(request.headers.get(CSRF_HEADER), csrf):
                return JSONResponse({"error": "missing or wrong CSRF token; reload the page"}, status_code=403)
        fresh = csrf or secrets.token_urlsafe(24)
        request.state.visitor = visitor
        request.state.csrf = fresh
        response = await call_next(request)
        if csrf is None:
            response.set_cookie(CSRF_COOKIE, fresh, httponly=True, samesite="strict")
        if presented and request.query_params.get("token") == presented:
            response.set_cookie(TOKEN_COOKIE, presented, httponly=True, samesite="strict")
        return response
