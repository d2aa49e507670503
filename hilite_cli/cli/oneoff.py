"""The one-off form of a stage: an image path on the command line instead of a manifest."""

from __future__ import annotations

from pathlib import Path

from hilite_cli.manifest import STDIO, Line

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})


def is_image_path(arg: str) -> bool:
    """True when the positional argument names an image rather than a JSONL manifest or stdin."""
    return arg != STDIO and Path(arg).suffix.lower() in IMAGE_SUFFIXES


def single_line(record: dict) -> list[Line]:
    """Feed one record built from the command line through the same executor as a manifest."""
    from hilite_cli.core import stable_id

    record = {"id": stable_id(record), **record}
    return [Line(1, record)]
