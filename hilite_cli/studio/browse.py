"""Browse: page through triplets or scored manifests, filter them, and show |I_e − I_0|.

Manifests are read once at start-up; each row keeps its source and edited paths as the URL
forms NamedFiles accepts, so the images a page shows are exactly the files the manifest names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from hilite_cli.studio.files import NamedFiles

SCORE_AXES = ("instruction", "aesthetics", "geometric")


@dataclass
class Row:
    number: int
    record: dict[str, Any]
    source: str | None
    edited: str | None

    @property
    def scores(self) -> dict[str, Any]:
        scores = self.record.get("scores")
        return scores if isinstance(scores, dict) else {}

    @property
    def passed(self) -> str:
        """What the record says: "yes", "no", or "unknown" when it has no `passed` (triplets have none)."""
        value = self.record.get("passed")
        return "unknown" if value is None else ("yes" if value else "no")

    def score(self, axis: str) -> str:
        """A score as the record gives it: the number, "null" when it says null, "unknown" when absent."""
        if axis not in self.scores:
            return "unknown"
        value = self.scores[axis]
        return "null" if value is None else f"{value:g}" if isinstance(value, int | float) else str(value)

    @property
    def kind(self) -> str | None:
        return self.record.get("kind") or ("candidate" if "output" in self.record else None)


@dataclass
class Manifest:
    path: str
    files: NamedFiles
    rows: list[Row] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def load_manifest(path: str) -> Manifest:
    from hilite_cli.manifest import read_manifest

    manifest = Manifest(path=path, files=NamedFiles(Path(path).parent))
    for line in read_manifest(path, assign_ids=False):
        if line.record is None:
            manifest.problems.append(f"line {line.number}: {line.problem}")
            continue
        rec = line.record
        source = rec.get("source") or rec.get("image")
        edited = rec.get("edited") or rec.get("output")
        manifest.rows.append(Row(
            number=line.number, record=rec,
            source=manifest.files.add(source) if isinstance(source, str) else None,
            edited=manifest.files.add(edited) if isinstance(edited, str) else None,
        ))
    return manifest


@dataclass(frozen=True)
class Filters:
    kind: str | None = None
    category: str | None = None
    passed: str | None = None  # "yes", "no" or "unknown", as Row.passed says
    ranges: tuple[tuple[str, float | None, float | None], ...] = ()

    @classmethod
    def from_query(cls, query: Any) -> Filters:
        """Query parameters to filters; a malformed number is a ValueError naming the parameter."""
        def number(name: str) -> float | None:
            raw = query.get(name)
            if raw in (None, ""):
                return None
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"`{name}` must be a number, got {raw!r}") from None
            if not math.isfinite(value):
                raise ValueError(f"`{name}` must be finite, got {raw!r}")
            return value

        passed = query.get("passed") or None
        if passed not in (None, "yes", "no", "unknown"):
            raise ValueError(f"`passed` must be yes, no or unknown, got {passed!r}")
        return cls(kind=query.get("kind") or None, category=query.get("category") or None, passed=passed,
                   ranges=tuple((axis, number(f"min_{axis}"), number(f"max_{axis}")) for axis in SCORE_AXES))

    def keep(self, row: Row) -> bool:
        if self.kind and row.kind != self.kind:
            return False
        if self.category and row.record.get("category") != self.category:
            return False
        if self.passed is not None and row.passed != self.passed:
            return False
        for axis, low, high in self.ranges:
            if low is None and high is None:
                continue
            value = row.scores.get(axis)
            if not isinstance(value, int | float):  # a null score is outside every range, never a 0
                return False
            if (low is not None and value < low) or (high is not None and value > high):
                return False
        return True


def choices(manifest: Manifest) -> dict[str, list[str]]:
    """The kinds and categories present, for the filter drop-downs."""
    kinds = sorted({r.kind for r in manifest.rows if r.kind})
    categories = sorted({str(r.record["category"]) for r in manifest.rows if r.record.get("category")})
    return {"kinds": kinds, "categories": categories}


def difference_map(source: Path, edited: Path) -> Image.Image:
    """|I_e − I_0| per pixel (max over channels), the edited image resized to the source's size,
    stretched so the largest change is white: what changed, not how much in absolute terms."""
    from hilite_cli.images import load_image

    src = load_image(source)
    out = load_image(edited)
    if out.size != src.size:
        out = out.resize(src.size, Image.BICUBIC)
    diff = np.abs(np.asarray(out, dtype=np.int16) - np.asarray(src, dtype=np.int16)).max(axis=2)
    peak = int(diff.max())
    scaled = (diff * (255.0 / peak)).round().astype(np.uint8) if peak else diff.astype(np.uint8)
    return Image.fromarray(scaled, mode="L")
