"""Hosted editors against the loopback server: keys and base URLs set for the real SDK clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.hosted_images import answer_images, point_sdks_at
from support.loopback import Loopback


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[Loopback]:
    monkeypatch.setenv("HILITE_CACHE_DIR", str(tmp_path / "cache"))
    with Loopback(answer=answer_images) as srv:
        point_sdks_at(srv, monkeypatch)
        yield srv
