"""Suite-wide isolation: no network, no user state — every test gets its own cache and HF home."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("HILITE_CACHE_DIR", str(state / "cache"))
    monkeypatch.setenv("HF_HOME", str(state / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from hilite_cli.config import load_config

    load_config.cache_clear()
    for key in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_API_KEY", "GOOGLE_GEMINI_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="session")
def tiny_ip2p_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random-weight InstructPix2Pix as a `--weights instruct-pix2pix=DIR` folder, built once:
    a real editor whose seeds give distinct candidates (the weights-free `classic` gives one)."""
    from support.tiny_models import build_instruct_pix2pix

    return build_instruct_pix2pix(tmp_path_factory.mktemp("weights") / "ip2p")


@pytest.fixture
def memory_root(tmp_path: Path) -> Iterator[str]:
    """A memory:// folder of this test's own, removed afterwards (the memory filesystem is process-wide)."""
    import fsspec

    yield f"memory://{tmp_path.name}"
    fs = fsspec.filesystem("memory")
    if fs.exists(f"/{tmp_path.name}"):
        fs.rm(f"/{tmp_path.name}", recursive=True)
