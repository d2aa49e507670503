"""The store's file: schema version and migrations, its default location, WAL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hilite_cli.store import Store, StoreError, default_data_dir
from hilite_cli.store.db import MIGRATIONS


def test_migrations_bring_a_store_to_the_current_version(tmp_path: Path) -> None:
    store = Store(tmp_path / "d")
    assert store.schema_version() == len(MIGRATIONS) == 4
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"sessions", "steps", "publications", "publications_fts", "raters", "rating_items", "assignments"} <= tables

    # A store written at version 1 gains the later tables, keeping its rows.
    old = tmp_path / "old"
    old.mkdir()
    with sqlite3.connect(old / "hilite.sqlite") as db:
        MIGRATIONS[0](db)
        db.execute("INSERT INTO sessions (name, base_image, created) VALUES ('kept', '0123456789abcdef', 0)")
        db.execute("PRAGMA user_version = 1")
    upgraded = Store(old)
    assert upgraded.schema_version() == 4
    with upgraded.read() as db:
        assert db.execute("SELECT name FROM sessions").fetchall()[0][0] == "kept"
        assert db.execute("SELECT COUNT(*) FROM raters").fetchone()[0] == 0


def test_a_store_from_a_newer_hilite_is_refused(tmp_path: Path) -> None:
    Store(tmp_path)
    with sqlite3.connect(tmp_path / "hilite.sqlite") as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer hilite"):
        Store(tmp_path)


def test_default_data_dir_follows_hilite_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HILITE_DATA", str(tmp_path / "mine"))
    assert default_data_dir() == tmp_path / "mine"
    monkeypatch.delenv("HILITE_DATA")
    assert default_data_dir().name == "hilite"
