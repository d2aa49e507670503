"""Shared by the studio's HTTP tests: a TestClient over a fresh store, CSRF-carrying posts."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient
from support.photos import photo

from hilite_cli.store import Store
from hilite_cli.studio.app import StudioSettings, create_app


def png(name: str = "astronaut", size: int = 64) -> bytes:
    buf = io.BytesIO()
    photo(name, size).save(buf, format="PNG")
    return buf.getvalue()


class Client:
    """A TestClient that first loads a page (for the CSRF cookie) and sends the token on every POST."""

    def __init__(self, store: Store, settings: StudioSettings, token: str | None = None,
                 config: dict[str, Any] | None = None) -> None:
        self.store = store
        # A loopback Host, as a browser on this machine sends: without a token no other name is served.
        self.http = TestClient(create_app(store, settings, config), base_url="http://127.0.0.1:8765")
        self.http.__enter__()
        page = self.http.get("/rate" if token else "/edit", params={"token": token} if token else None)
        assert page.status_code == 200, page.text
        self.csrf = page.text.split('name="csrf-token" content="')[1].split('"')[0]

    def get(self, url: str, **kw: Any):
        return self.http.get(url, **kw)

    def post(self, url: str, **kw: Any):
        headers = {"X-CSRF-Token": self.csrf, **kw.pop("headers", {})}
        return self.http.post(url, headers=headers, **kw)

    def wait(self, job: str) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = self.get(f"/api/jobs/{job}").json()
            if state["status"] in ("done", "failed"):
                return state
            time.sleep(0.05)
        raise AssertionError(f"job {job} did not finish")

    def close(self) -> None:
        self.http.__exit__(None, None, None)


def new_store(tmp_path: Path) -> Store:
    return Store(tmp_path / "data")
