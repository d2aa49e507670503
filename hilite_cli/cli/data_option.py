"""The `--data` option of the commands that share HILITE's store (sessions, studio, rating)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from hilite_cli.store import Store

DataDir = Annotated[
    Path | None,
    typer.Option("--data", help="The store's folder [default: $HILITE_DATA, else the user data folder].",
                 show_default=False),
]


def open_store(data: Path | None) -> Store:
    """The store at `data`; a folder that cannot be used is bad usage (exit 2) with the reason."""
    from hilite_cli.cli.runner import usage_error
    from hilite_cli.store import Store, StoreError

    try:
        return Store(data)
    except (OSError, StoreError) as exc:
        raise usage_error(f"cannot open the store at {data or '$HILITE_DATA'}: {exc}") from None
