"""Fixtures for `hilite mine`: tiny random-weight T2I and editor pipelines, the loopback judge,
and an in-process runner of the real command."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mine.helpers import KEY, MODELS, Judge, Mined, base_args, collect
from support.loopback import Loopback
from support.photos import save_photo


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from support.tiny_models import build

    root = tmp_path_factory.mktemp("tiny-weights")
    return {name: build(name, root / name) for name in MODELS}


@pytest.fixture
def judge() -> Judge:
    return Judge()


@pytest.fixture
def server(judge: Judge) -> Iterator[Loopback]:
    with Loopback(answer=judge) as srv:
        yield srv


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    return KEY


@pytest.fixture
def mine(tmp_path: Path, tiny_weights: dict[str, Path]) -> Any:
    """Run `hilite mine` in this process (models stay loaded between runs) and collect its outputs."""
    from typer.testing import CliRunner

    def run(*args: str, folder: Path = tmp_path) -> Mined:
        from hilite_cli.cli.app import app

        result = CliRunner().invoke(app, ["mine", *base_args(folder, tiny_weights), *args], catch_exceptions=False)
        return collect(folder, result.exit_code, result.output)

    return run


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """Two real photos (scikit-image's astronaut and coffee, 48 px) in tmp/photos, for `mine --images`."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("astronaut", "coffee"):
        save_photo(folder, name, size=48)
    return folder
