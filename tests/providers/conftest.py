"""Isolate user state: a temporary cache dir, no keys or base URLs from the developer's shell."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.loopback import Loopback

ENV_VARS = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_API_KEY", "GOOGLE_GEMINI_BASE_URL", "OPENAI_BASE_URL")
KEY = "sk-test-SECRET-0123456789abcdef"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HILITE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    return KEY


@pytest.fixture
def server() -> Iterator[Loopback]:
    with Loopback() as srv:
        yield srv


@pytest.fixture
def png() -> bytes:
    from hilite_cli.images import encode_image
    from PIL import Image

    return encode_image(Image.new("RGB", (8, 8), (200, 30, 30)))


@pytest.fixture
def png2() -> bytes:
    from hilite_cli.images import encode_image
    from PIL import Image

    return encode_image(Image.new("RGB", (8, 8), (30, 30, 200)), "jpeg")
