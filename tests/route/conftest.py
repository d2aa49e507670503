"""Route tests: isolated cache and environment, tiny task images on disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.loopback import Loopback

from hilite_cli.config import load_config

ENV_VARS = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_API_KEY", "GOOGLE_GEMINI_BASE_URL", "OPENAI_BASE_URL")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HILITE_CACHE_DIR", str(tmp_path / "cache"))
    load_config.cache_clear()
    yield
    load_config.cache_clear()


@pytest.fixture
def images(tmp_path: Path) -> dict[str, str]:
    """Absolute paths of a photo, a mask and a reference image, as a stage sees them."""
    from PIL import Image

    paths = {}
    for name, mode, colour in [("photo", "RGB", (90, 140, 200)), ("mask", "L", 255), ("ref", "RGB", (10, 200, 10))]:
        path = tmp_path / f"{name}.png"
        Image.new(mode, (16, 16), colour).save(path)
        paths[name] = str(path)
    return paths


@pytest.fixture
def server() -> Iterator[Loopback]:
    with Loopback() as srv:
        yield srv
