"""Old option spellings kept for one release: hidden from --help, still accepted, with a note."""

from __future__ import annotations

import sys
from typing import TypeVar

import typer

T = TypeVar("T")


def renamed(new_value: T, old_value: T | None, new: str, old: str, default: T) -> T:
    """The value of an option renamed from `old` to `new`.

    The old spelling still works (stderr says what it is called now); giving both with different
    values is a usage error rather than a silent choice.
    """
    if old_value is None:
        return new_value
    if new_value != default and new_value != old_value:
        print(f"hilite: error: {old} is the old name of {new}; give only {new}", file=sys.stderr)
        raise typer.Exit(2)
    print(f"hilite: note: {old} is now called {new}; the old name goes away in the next release", file=sys.stderr)
    return old_value
