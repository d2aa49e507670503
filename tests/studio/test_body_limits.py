"""Bodies are counted as they stream in: a chunked body (no Content-Length) gets a 413 once it passes
the limit, and the server stops reading there, on a real uvicorn server over a socket."""

from __future__ import annotations

import select
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from studio.helpers import png

from hilite_cli.config import load_config
from hilite_cli.store import Store, ratings
from hilite_cli.studio.app import StudioSettings

CHUNK = 64 * 1024
OFFERED = 256 * 1024 * 1024  # what the client would send if nobody stopped it
# Loopback socket buffers on both sides may take a few MB before the client's send blocks.
SLACK = 24 * 1024 * 1024


def _small_limits() -> dict:
    config = load_config("studio")
    return {**config, "uploads": {**config["uploads"], "max_bytes": 1_000_000},
            "requests": {**config["requests"], "max_body_bytes": 100_000}}


def _session(url: str, token: str | None = None) -> tuple[str, str]:
    """(Cookie header, CSRF token) of a page, as a browser holds them."""
    page = httpx.get(f"{url}/{'rate' if token else 'edit'}", params={"token": token} if token else None, timeout=60)
    csrf = page.text.split('name="csrf-token" content="')[1].split('"')[0]
    return "; ".join(f"{k}={v}" for k, v in page.cookies.items()), csrf


def _chunked_post(url: str, path: str, content_type: str, cookie: str, csrf: str, head: bytes = b"") -> tuple[int, int]:
    """POST an endless chunked body (`head`, then filler) until the server answers or stops reading;
    (status, bytes the client got to send)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.settimeout(10)
    sock.sendall((f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nTransfer-Encoding: chunked\r\n"
                  f"Content-Type: {content_type}\r\nCookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\n"
                  f"Origin: {url}\r\n\r\n").encode())
    sent, filler = 0, b"a" * CHUNK
    try:
        while sent < OFFERED:
            data = head if sent == 0 and head else filler
            sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
            sent += len(data)
            if select.select([sock], [], [], 0)[0]:
                break  # the answer came
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        pass
    reply = b""
    try:
        while b"\r\n" not in reply:
            got = sock.recv(4096)
            if not got:
                break
            reply += got
    finally:
        sock.close()
    return int(reply.split(b" ", 2)[1]), sent


def test_chunked_json_bodies_stop_at_the_limit(serve, tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    tokens = ratings.ensure_raters(store, ["ann", "bo"])
    blob = store.blobs.put_bytes(png())
    ratings.add_item(store, "i0", source_image=blob, edited_image=blob, instruction="edit", category=None,
                     record={}, raters=["ann", "bo"], per_item=2)
    server = serve(StudioSettings(), store=store, config=_small_limits())

    # A rater's comment that never ends, and an endless JSON body to admin revert.
    cookie, csrf = _session(server.url, tokens["ann"][0])
    head = b'{"item": "i0", "instruction": 3, "aesthetics": 3, "comment": "'
    status, sent = _chunked_post(server.url, "/api/rate", "application/json", cookie, csrf, head)
    assert status == 413 and sent < SLACK, (status, sent)
    assert ratings.progress(store, "ann")["done"] == 0

    status, sent = _chunked_post(server.url, "/api/sessions/x/revert", "application/json", cookie, csrf, b'{"step": ')
    assert status == 413 and sent < SLACK, (status, sent)
    # A declared length over the limit is refused before any of it is read.
    r = httpx.post(f"{server.url}/api/sessions/x/revert", content=b"0" * 200_000, timeout=60,
                   headers={"Cookie": cookie, "X-CSRF-Token": csrf, "Content-Type": "application/json"})
    assert r.status_code == 413 and "larger than 100000 bytes" in r.json()["error"]


def test_chunked_uploads_stop_at_the_limit(serve, tmp_path: Path) -> None:
    server = serve(StudioSettings(), config=_small_limits())
    cookie, csrf = _session(server.url)
    head = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n'
            b"Content-Type: image/png\r\n\r\n")
    status, sent = _chunked_post(server.url, "/api/uploads", "multipart/form-data; boundary=b", cookie, csrf, head)
    assert status == 413 and sent < SLACK, (status, sent)
    assert not any(server.store.blobs.folder.iterdir())
    # Under the limit, the same chunked form is read and stored.
    ok = httpx.post(f"{server.url}/api/uploads", files={"file": ("a.png", png(), "image/png")},
                    headers={"Cookie": cookie, "X-CSRF-Token": csrf}, timeout=60)
    assert ok.status_code == 200, ok.text
