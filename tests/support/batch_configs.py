"""Shared by the batch and cost tests: a config folder with fast polling and known prices."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

REPO_CONFIGS = Path(__file__).resolve().parents[2] / "configs"

# Prices the hand-computed cost checks use (US dollars per million tokens).
TEST_PRICES = """
[prices."gemini:gemini-2.5-flash"]
input_per_1m = 0.30
output_per_1m = 2.50
batch_discount = 0.5

[prices."openai:gpt-4.1"]
input_per_1m = 2.00
output_per_1m = 8.00
batch_discount = 0.5
"""


def fast_configs(folder: Path, monkeypatch: pytest.MonkeyPatch, **batch: object) -> Path:
    """A copy of configs/ whose [batch] polls every 10 ms and whose [prices] are TEST_PRICES."""
    shutil.copytree(REPO_CONFIGS, folder)
    text = (folder / "providers.toml").read_text()
    head = text.split("[batch]")[0].split("[prices.")[0]
    settings = {"poll_interval": 0.01, "max_wait": 30.0, **batch}
    section = "[batch]\n" + "".join(f"{k} = {v!r}\n" for k, v in settings.items())
    (folder / "providers.toml").write_text(head + section + TEST_PRICES)
    tomllib.loads((folder / "providers.toml").read_text())  # fail here, not in the code under test
    monkeypatch.setenv("HILITE_CONFIG_DIR", str(folder))
    from hilite_cli.config import load_config

    load_config.cache_clear()
    return folder
