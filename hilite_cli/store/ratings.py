"""Rating tasks for NHR's human scores: items, raters with personal tokens, assignments, ratings.

Every item is assigned to `per_item` (2–4) distinct raters, dealt round-robin so the load is even;
an export is exactly the `debias` input: {item, rater, instruction, aesthetics}.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import orjson

from hilite_cli.store.db import Store, StoreError, is_int

MIN_RATERS, MAX_RATERS = 2, 4
SCALE = range(1, 6)


def check_plan(raters: list[str], per_item: int) -> None:
    if not MIN_RATERS <= per_item <= MAX_RATERS:
        raise StoreError(f"--per-item must be {MIN_RATERS}–{MAX_RATERS} (NHR: 2–4 raters per item), got {per_item}")
    if len(set(raters)) != len(raters):
        raise StoreError(f"--raters names someone twice: {','.join(raters)}")
    if len(raters) < per_item:
        raise StoreError(f"--per-item {per_item} needs at least {per_item} raters, got {len(raters)}")
    bad = [r for r in raters if not r or not r.replace("-", "").replace("_", "").isalnum()]
    if bad:
        raise StoreError(f"rater names are letters, digits, '-' or '_': {bad}")


def ensure_raters(store: Store, raters: list[str]) -> dict[str, tuple[str, bool]]:
    """Each rater's personal token (kept if they already have one) and whether it is new."""
    out = {}
    with store.tx() as db:
        for name in raters:
            row = db.execute("SELECT token FROM raters WHERE name = ?", (name,)).fetchone()
            if row:
                out[name] = (row["token"], False)
                continue
            token = secrets.token_urlsafe(18)
            db.execute("INSERT INTO raters (name, token, created) VALUES (?, ?, ?)", (name, token, time.time()))
            out[name] = (token, True)
    return out


def unshown_tokens(store: Store, raters: list[str]) -> list[tuple[str, str]]:
    """(name, token) of the raters among `raters` whose token has never been printed."""
    with store.read() as db:
        rows = db.execute(f"SELECT name, token FROM raters WHERE shown = 0 AND name IN ({','.join('?' * len(raters))})",
                          raters).fetchall()
    order = {name: i for i, name in enumerate(raters)}
    return sorted(((r["name"], r["token"]) for r in rows), key=lambda pair: order[pair[0]])


def mark_shown(store: Store, rater: str) -> None:
    with store.tx() as db:
        db.execute("UPDATE raters SET shown = 1 WHERE name = ?", (rater,))


def add_item(store: Store, item: str, *, source_image: str, edited_image: str, instruction: str,
             category: str | None, record: dict[str, Any], raters: list[str], per_item: int) -> bool:
    """Add one item and its assignments; an item already there is left as it is (False)."""
    with store.tx() as db:
        if db.execute("SELECT 1 FROM rating_items WHERE item = ?", (item,)).fetchone():
            return False
        position = db.execute("SELECT COUNT(*) FROM rating_items").fetchone()[0]
        db.execute(
            "INSERT INTO rating_items (item, source_image, edited_image, instruction, category, record, created)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (item, source_image, edited_image, instruction, category, orjson.dumps(record).decode(), time.time()),
        )
        for j in range(per_item):
            rater = raters[(position * per_item + j) % len(raters)]
            db.execute("INSERT INTO assignments (item, rater, position) VALUES (?, ?, ?)", (item, rater, position))
    return True


def rater_for_token(store: Store, token: str | None) -> str | None:
    if not token:
        return None
    with store.read() as db:
        row = db.execute("SELECT name FROM raters WHERE token = ?", (token,)).fetchone()
    return row["name"] if row else None


def tasks(store: Store, rater: str, item: str | None = None) -> list[dict[str, Any]]:
    """The rater's tasks in dealing order; with `item`, only that one (SQLite finds it, not a scan here)."""
    with store.read() as db:
        rows = db.execute(
            "SELECT a.item, a.status, a.instruction AS score_instruction, a.aesthetics, a.comment, i.instruction,"
            " i.source_image, i.edited_image, i.category FROM assignments a JOIN rating_items i ON i.item = a.item"
            " WHERE a.rater = ?" + (" AND a.item = ?" if item is not None else "") + " ORDER BY a.position",
            (rater,) if item is None else (rater, item),
        ).fetchall()
    return [dict(r) for r in rows]


def progress(store: Store, rater: str) -> dict[str, int]:
    all_tasks = tasks(store, rater)
    done = sum(t["status"] == "done" for t in all_tasks)
    skipped = sum(t["status"] == "skipped" for t in all_tasks)
    return {"total": len(all_tasks), "done": done, "skipped": skipped, "left": len(all_tasks) - done - skipped}


def assignment(store: Store, rater: str, item: str) -> dict[str, Any]:
    """The rater's own task for `item`; anybody else's is not found, whoever asks."""
    found = tasks(store, rater, item)
    if not found:
        raise StoreError(f"no task {item!r} for rater {rater!r}")
    return found[0]


def rate(store: Store, rater: str, item: str, *, instruction: int | None, aesthetics: int | None,
         skip: bool = False, comment: str | None = None) -> None:
    assignment(store, rater, item)
    if not skip:
        for name, value in (("instruction", instruction), ("aesthetics", aesthetics)):
            if not is_int(value) or value not in SCALE:
                raise StoreError(f"`{name}` must be an integer 1–5, got {value!r}")
    with store.tx() as db:
        db.execute(
            "UPDATE assignments SET status = ?, instruction = ?, aesthetics = ?, comment = ?, updated = ?"
            " WHERE item = ? AND rater = ?",
            ("skipped" if skip else "done", None if skip else instruction, None if skip else aesthetics,
             comment or None, time.time(), item, rater),
        )


def export(store: Store) -> list[dict[str, Any]]:
    """Every given rating as a `debias` input record; skips and pending tasks are not ratings."""
    with store.read() as db:
        rows = db.execute("SELECT item, rater, instruction, aesthetics FROM assignments WHERE status = 'done'"
                          " ORDER BY position, rater").fetchall()
    return [{"item": r["item"], "rater": r["rater"], "instruction": r["instruction"], "aesthetics": r["aesthetics"]}
            for r in rows]
