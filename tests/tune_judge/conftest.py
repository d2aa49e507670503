"""The tune-judge tests' rating round (tests/support/rating_round.py), one per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.rating_round import make_rated_store

from hilite_cli.store import Store


@pytest.fixture
def rated_store(tmp_path: Path) -> tuple[Store, Path]:
    return make_rated_store(tmp_path)
