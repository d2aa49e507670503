"""Isolate user state: a temporary cache dir, no keys or base URLs from the developer's shell."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from support.loopback import Loopback

from hilite_cli.providers import Provider, get_provider

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


@pytest.fixture(params=["gemini", "openai"])
def make(request: pytest.FixtureRequest, server: Loopback, keys: str) -> Iterator[Callable[..., Provider]]:
    """Build the parametrised backend pointed at the loopback server, with fast retries."""
    backend = request.param
    made: list[Provider] = []

    def build(**options: object) -> Provider:
        spec = "gemini:gemini-2.5-flash" if backend == "gemini" else "openai:gpt-4.1"
        url = server.url if backend == "gemini" else server.openai_url
        options = {"backoff_base": 0.001, "max_retries": 2, **options}
        provider = get_provider(spec, base_url=url, **options)
        made.append(provider)
        return provider

    yield build
    for provider in made:
        provider.close()
