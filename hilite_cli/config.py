"""Settings from `configs/*.toml`: the one place thresholds, registries and presets live."""

from __future__ import annotations

import os
import tomllib
from functools import cache
from pathlib import Path
from typing import Any


def config_dir() -> Path:
    """`HILITE_CONFIG_DIR` if set, else the repository's `configs/` beside the package."""
    env = os.environ.get("HILITE_CONFIG_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "configs"


def cache_dir() -> Path:
    """`HILITE_CACHE_DIR` if set, else ~/.cache/hilite: the response cache and unpacked benchmarks."""
    return Path(os.environ.get("HILITE_CACHE_DIR") or Path.home() / ".cache" / "hilite")


@cache
def load_config(name: str) -> dict[str, Any]:
    """Parse `configs/<name>.toml`; a missing file is a usage error, not an empty dict."""
    path = config_dir() / f"{name}.toml"
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} not found (set HILITE_CONFIG_DIR to point elsewhere)")
    with path.open("rb") as fh:
        return tomllib.load(fh)
