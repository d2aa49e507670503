"""SQLite response cache: a re-run of the same manifest sends zero requests.

Keys hash what determines a reply (backend, model, prompt, image hashes, parameters, schema);
never a key or a URL. Only answers that would come back the same are stored: `ok` and the
deterministic failures, never `http_error`/`timeout`. The schema evolves through numbered,
append-only migrations tracked by `PRAGMA user_version`.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

CACHEABLE: frozenset[str] = frozenset({"ok", "refused", "blocked", "truncated", "unparsed"})


def default_cache_path() -> Path:
    """`$HILITE_CACHE_DIR/responses.sqlite`, HILITE_CACHE_DIR defaulting to ~/.cache/hilite."""
    root = os.environ.get("HILITE_CACHE_DIR") or str(Path.home() / ".cache" / "hilite")
    return Path(root) / "responses.sqlite"


def _m001_responses(db: sqlite3.Connection) -> None:
    db.execute(
        "CREATE TABLE responses ("
        " key TEXT PRIMARY KEY, backend TEXT NOT NULL, model TEXT, status TEXT NOT NULL,"
        " value BLOB, raw TEXT, reason TEXT, created REAL NOT NULL)"
    )


def _m002_usage(db: sqlite3.Connection) -> None:
    """Token counts of the stored answer (NULL when the provider reported none, and for rows from before)."""
    db.execute("ALTER TABLE responses ADD COLUMN input_tokens INTEGER")
    db.execute("ALTER TABLE responses ADD COLUMN output_tokens INTEGER")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_m001_responses, _m002_usage]


def migrate(db: sqlite3.Connection) -> None:
    """Apply every migration newer than the file's `user_version`, in one write transaction.

    The stages of a shell pipeline start together and open the same cache: BEGIN IMMEDIATE makes
    one of them migrate while the others wait, then read the version it left.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        current = db.execute("PRAGMA user_version").fetchone()[0]
        for number, step in enumerate(MIGRATIONS[current:], start=current + 1):
            step(db)
            db.execute(f"PRAGMA user_version = {number}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


OPEN_TIMEOUT_S = 30.0


def _retry_while_busy(step: Callable[[], object]) -> None:
    """Run `step`, retrying while another process holds the file.

    SQLite answers SQLITE_BUSY at once, without its busy handler, when the journal mode is switched
    or the WAL index rebuilt while another connection opens the same new file; the stages of a
    pipeline that start together hit exactly that, so opening retries until OPEN_TIMEOUT_S.
    """
    deadline = time.monotonic() + OPEN_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def cache_key(
    *, backend: str, model: str | None, prompt: str, images: list[bytes], params: dict[str, Any], schema: Any,
    salt: str | None = None,
) -> str:
    """sha256 over a canonical JSON of everything that determines the reply, and the ask's cache salt."""
    payload = {
        "salt": salt,
        "backend": backend,
        "model": model,
        "prompt": prompt,
        "images": [hashlib.sha256(img).hexdigest() for img in images],
        "params": params,
        "schema": schema,
    }
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


class ResponseCache:
    """Thread-safe get/put over one SQLite file (WAL, so parallel runs can share it)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=OPEN_TIMEOUT_S)
        _retry_while_busy(lambda: self._db.execute("PRAGMA journal_mode=WAL"))
        _retry_while_busy(lambda: migrate(self._db))

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT status, value, raw, reason, input_tokens, output_tokens FROM responses WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        return {"status": row[0], "value": row[1], "raw": row[2], "reason": row[3], "input_tokens": row[4],
                "output_tokens": row[5]}

    def put(
        self, key: str, *, backend: str, model: str | None, status: str, value: bytes | None, raw: str | None,
        reason: str | None, input_tokens: int | None = None, output_tokens: int | None = None,
    ) -> None:
        if status not in CACHEABLE:
            raise ValueError(f"status `{status}` is transient and must not be cached")
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, backend, model, status, value, raw, reason, created,"
                " input_tokens, output_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, backend, model, status, value, raw, reason, time.time(), input_tokens, output_tokens),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
