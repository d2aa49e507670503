"""The instruction category of every (source, instruction) pair, from the spec records.

A spec names its category in `category`: a string for all its edits, or an object mapping an
instruction to its category (`{"add a hat": "add", "make it winter": "style"}`); edits it does
not name fall back to configs/schedule.toml `default_category`. A source shared by several specs
takes, for each instruction, the first spec (in input order) that names a category for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hilite_cli.config import load_config
from hilite_cli.records import Record

Pair = tuple[str, str]


def default_category() -> str:
    return str(load_config("schedule")["adaptive"]["default_category"])


def spec_category(spec: Record, instruction: str) -> str | None:
    """The category a spec gives `instruction`, or None when it names none."""
    value = spec.get("category")
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, Mapping):
        named = {str(k).strip(): v for k, v in value.items()}.get(instruction.strip())
        if isinstance(named, str) and named.strip():
            return named.strip()
    return None


def pair_categories(specs: Sequence[Record], plans: Sequence[Any]) -> dict[Pair, str]:
    """(source id, instruction) -> category for every pair the source plans hold."""
    by_id = {s["id"]: s for s in specs}
    fallback = default_category()
    out: dict[Pair, str] = {}
    for plan in plans:
        for instruction in plan.instructions:
            named = (spec_category(by_id[s], instruction) for s in plan.specs if s in by_id)
            out[(plan.id, instruction)] = next((c for c in named if c is not None), fallback)
    return out


def read_category_weights(path: str) -> dict[str, float]:
    """Per-category draw weights from a JSON file: `{category: weight}`, or a `hilite eval --json`
    summary (its `category_weights`). Raises ValueError naming the problem."""
    from pathlib import Path

    import orjson

    try:
        data = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ValueError(f"--category-weights {path}: cannot read it as JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("category_weights"), dict):
        data = data["category_weights"]
    if not isinstance(data, dict) or not data:
        raise ValueError(f"--category-weights {path}: expected a JSON object of category -> weight")
    out = {}
    for name, weight in data.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight >= 0:
            raise ValueError(f"--category-weights {path}: weight of {name!r} must be a number >= 0, got {weight!r}")
        out[str(name)] = float(weight)
    return out
