"""SQLite response cache: a re-run of the same manifest sends zero requests.

Keys hash what determines a reply (backend, model, prompt, image hashes, parameters, schema);
never a key or a URL. Only answers that would come back the same are stored: `ok`, a refusal, and
a complete answer that does not fit the schema (prose, a score off the scale). A broken reply (not
the wire format, empty, cut-off or malformed JSON), a `MAX_TOKENS` cut and a safety block are asked
again next time, like `http_error` and `timeout`. The schema evolves through numbered,
append-only migrations tracked by `PRAGMA user_version`.

A cache is only ever a shortcut: a file that is not a readable database is set aside as
`<name>.corrupt-<time>` (with a warning naming both) and a fresh one started; a row that cannot be
read is a miss.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from hilite_cli.migrations import apply_migrations
from hilite_cli.providers.errors import ProviderConfigError

log = logging.getLogger(__name__)

CACHEABLE: frozenset[str] = frozenset({"ok", "refused", "unparsed"})


def default_cache_path() -> Path:
    """`$HILITE_CACHE_DIR/responses.sqlite`, HILITE_CACHE_DIR defaulting to ~/.cache/hilite."""
    from hilite_cli.config import cache_dir

    return cache_dir() / "responses.sqlite"


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
    """Bring the cache's schema up to date (see `hilite_cli.migrations`)."""
    apply_migrations(db, MIGRATIONS)


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
        self.path = path
        _require_folder(path)
        self._lock = threading.Lock()
        self._damaged = False
        try:
            self._db = _connect(path)
        except sqlite3.OperationalError as exc:
            raise ProviderConfigError(_unusable(path, str(exc))) from None
        except sqlite3.DatabaseError as exc:
            self._db = _set_aside_and_reopen(path, exc)

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored row, or None when there is none or it cannot be read (a damaged page is a miss)."""
        try:
            with self._lock:
                row = self._db.execute(
                    "SELECT status, value, raw, reason, input_tokens, output_tokens FROM responses WHERE key = ?", (key,)
                ).fetchone()
        except sqlite3.DatabaseError as exc:
            self._warn_damaged(exc)
            return None
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
        try:
            with self._lock, self._db:
                self._db.execute(
                    "INSERT OR REPLACE INTO responses (key, backend, model, status, value, raw, reason, created,"
                    " input_tokens, output_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, backend, model, status, value, raw, reason, time.time(), input_tokens, output_tokens),
                )
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise
            self._warn_damaged(exc)
        except sqlite3.DatabaseError as exc:
            self._warn_damaged(exc)

    def _warn_damaged(self, exc: Exception) -> None:
        """Say once per run that the cache is damaged; the run goes on without it where it cannot read."""
        if not self._damaged:
            self._damaged = True
            log.warning("hilite: response cache %s is damaged (%s): unreadable answers are asked again; "
                        "delete the file to start a fresh cache", self.path, exc)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _require_folder(path: Path) -> None:
    """Create the cache's folder, or stop with one line naming it (HILITE_CACHE_DIR set to a file)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ProviderConfigError(
            f"the response cache folder {path.parent} is not a folder (from HILITE_CACHE_DIR): point "
            "HILITE_CACHE_DIR at a folder, or pass --no-cache"
        ) from None
    except OSError as exc:
        raise ProviderConfigError(_unusable(path, exc.strerror or str(exc))) from None
    if path.is_dir():
        raise ProviderConfigError(_unusable(path, "it is a folder"))


def _unusable(path: Path, why: str) -> str:
    return f"cannot open the response cache {path}: {why}; fix it, set HILITE_CACHE_DIR elsewhere, or pass --no-cache"


def _connect(path: Path) -> sqlite3.Connection:
    """Open, switch to WAL and migrate; a file that is not a database raises sqlite3.DatabaseError."""
    db = sqlite3.connect(path, check_same_thread=False, timeout=OPEN_TIMEOUT_S)
    try:
        _retry_while_busy(lambda: db.execute("PRAGMA journal_mode=WAL"))
        _retry_while_busy(lambda: migrate(db))
    except BaseException:
        db.close()
        raise
    return db


def _set_aside_and_reopen(path: Path, exc: Exception) -> sqlite3.Connection:
    """Rename an unreadable cache to `<name>.corrupt-<time>` and start a fresh one, warning with both names.

    The stages of a pipeline open the cache together: under an exclusive lock on `<name>.lock`, each
    first tries again, so only the first sets the file aside and the others open the fresh one.
    """
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _connect(path)
        except sqlite3.OperationalError as again:
            raise ProviderConfigError(_unusable(path, str(again))) from None
        except sqlite3.DatabaseError:
            pass
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{path}{suffix}")
            if part.exists():
                os.replace(part, f"{aside}{suffix}")
        log.warning("hilite: response cache %s is not a readable database (%s): moved it to %s and started "
                    "a fresh cache", path, exc, aside)
        try:
            return _connect(path)
        except sqlite3.DatabaseError as fresh:
            raise ProviderConfigError(_unusable(path, str(fresh))) from None
