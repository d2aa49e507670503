"""Numbered, append-only SQLite schema migrations tracked by `PRAGMA user_version` (the response
cache and the studio store evolve the same way)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

Migration = Callable[[sqlite3.Connection], None]


def apply_migrations(db: sqlite3.Connection, migrations: Sequence[Migration]) -> int:
    """Apply every migration newer than the file's `user_version` in one write transaction; the
    version the file had.

    Processes that open a new file together (the stages of a shell pipeline) meet at BEGIN
    IMMEDIATE: one migrates while the others wait, then read the version it left.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        current = db.execute("PRAGMA user_version").fetchone()[0]
        for number, step in enumerate(migrations[current:], start=current + 1):
            step(db)
            db.execute(f"PRAGMA user_version = {number}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return current
