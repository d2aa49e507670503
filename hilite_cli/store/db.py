"""The store's SQLite file: location, connections, and numbered append-only migrations.

As the response cache does (hilite_cli/providers/cache.py), the schema version lives in
`PRAGMA user_version` and each migration is a function appended to MIGRATIONS, never edited.
Every call opens its own short connection, so the studio's worker threads and a terminal run
can use the same file at once (WAL: readers never wait for the writer).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from hilite_cli.migrations import apply_migrations
from hilite_cli.store.blobs import BlobStore

BUSY_TIMEOUT_S = 30.0


class StoreError(Exception):
    """A request the store cannot honour (unknown session, bad step, nothing to publish); one line."""


def is_int(value: object) -> bool:
    """An integer from a JSON body: `true`/`false` arrive as bools, which Python counts as ints."""
    return isinstance(value, int) and not isinstance(value, bool)


def default_data_dir() -> Path:
    """`$HILITE_DATA`, else the platform's user data folder for hilite."""
    env = os.environ.get("HILITE_DATA")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("hilite", appauthor=False))


def _m001_sessions(db: sqlite3.Connection) -> None:
    db.execute(
        "CREATE TABLE sessions (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, base_image TEXT NOT NULL,"
        " created REAL NOT NULL)"
    )
    db.execute(
        "CREATE TABLE steps (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES sessions(id),"
        " number INTEGER NOT NULL, task_id TEXT, input_image TEXT NOT NULL, reference_image TEXT, mask TEXT,"
        " reference_mask TEXT, instruction TEXT NOT NULL, route TEXT, knobs TEXT NOT NULL, candidates TEXT,"
        " status TEXT NOT NULL, error TEXT, pick TEXT, picked_image TEXT, feedback TEXT,"
        " reverted INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL, UNIQUE (session_id, number))"
    )


def _m002_publications(db: sqlite3.Connection) -> None:
    db.execute(
        "CREATE TABLE publications (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES sessions(id),"
        " title TEXT NOT NULL, description TEXT NOT NULL, public INTEGER NOT NULL, satisfaction INTEGER,"
        " likes INTEGER NOT NULL DEFAULT 0, original_image TEXT NOT NULL, final_image TEXT NOT NULL,"
        " workflow TEXT NOT NULL, created REAL NOT NULL)"
    )
    # rowid = publications.id; the original prompts, not the router's rewrites (HILITE III-E).
    db.execute("CREATE VIRTUAL TABLE publications_fts USING fts5(title, description, prompts)")


def _m003_ratings(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE raters (name TEXT PRIMARY KEY, token TEXT UNIQUE NOT NULL, created REAL NOT NULL)")
    db.execute(
        "CREATE TABLE rating_items (item TEXT PRIMARY KEY, source_image TEXT NOT NULL, edited_image TEXT NOT NULL,"
        " instruction TEXT NOT NULL, category TEXT, record TEXT NOT NULL, created REAL NOT NULL)"
    )
    db.execute(
        "CREATE TABLE assignments (item TEXT NOT NULL REFERENCES rating_items(item),"
        " rater TEXT NOT NULL REFERENCES raters(name), position INTEGER NOT NULL,"
        " status TEXT NOT NULL DEFAULT 'pending', instruction INTEGER, aesthetics INTEGER, comment TEXT,"
        " updated REAL, PRIMARY KEY (item, rater))"
    )


def _m004_rater_tokens_shown(db: sqlite3.Connection) -> None:
    # Whether a rater's token has been printed: a `rate-tasks` killed before printing it prints it next run.
    db.execute("ALTER TABLE raters ADD COLUMN shown INTEGER NOT NULL DEFAULT 0")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_m001_sessions, _m002_publications, _m003_ratings,
                                                          _m004_rater_tokens_shown]


def migrate(db: sqlite3.Connection) -> None:
    """Bring the store's schema up to date; a store written by a newer hilite is refused."""
    found = apply_migrations(db, MIGRATIONS)
    if found > len(MIGRATIONS):
        raise StoreError(f"the store was written by a newer hilite (schema {found} > {len(MIGRATIONS)})")


class Store:
    """The data folder: `hilite.sqlite` plus `images/` (content-addressed PNGs)."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_data_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / "hilite.sqlite"
        self.blobs = BlobStore(self.root / "images")
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            migrate(db)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys = ON")
        return db

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on a fresh connection, committed on success."""
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            yield db
        finally:
            db.close()

    def schema_version(self) -> int:
        with self.read() as db:
            return int(db.execute("PRAGMA user_version").fetchone()[0])
