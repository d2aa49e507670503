"""Sessions and their steps (HILITE modules 4–5): each edit is a Step; revert keeps the history.

A step holds the input image, instruction, route (intent + per-model prompts), knobs, the
candidates in their hidden slot order, and, once chosen, the pick and its feedback (a)–(d). The
session's current image is the last kept pick, or its base image before any.
"""

from __future__ import annotations

import re
import sqlite3
import time
from typing import Any

import orjson

from hilite_cli.store.db import Store, StoreError, is_int

SESSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
FEEDBACK_FIELDS = ("matches_instruction", "matches_original", "offensive", "offensive_description", "comment")


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _load(value: str | None) -> Any:
    return None if value is None else orjson.loads(value)


def check_name(name: str) -> str:
    if not SESSION_NAME.match(name or ""):
        raise StoreError(f"session name {name!r}: use 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return name


def step_dict(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    for key in ("route", "knobs", "candidates", "feedback"):
        out[key] = _load(out[key])
    out["reverted"] = bool(out["reverted"])
    return out


def create_session(store: Store, name: str, base_image: str) -> dict[str, Any]:
    check_name(name)
    with store.tx() as db:
        if db.execute("SELECT 1 FROM sessions WHERE name = ?", (name,)).fetchone():
            raise StoreError(f"session {name!r} already exists")
        db.execute("INSERT INTO sessions (name, base_image, created) VALUES (?, ?, ?)", (name, base_image, time.time()))
    return get_session(store, name)


def find_session(store: Store, name: str) -> dict[str, Any] | None:
    with store.read() as db:
        row = db.execute("SELECT * FROM sessions WHERE name = ?", (name,)).fetchone()
    return dict(row) if row else None


def get_session(store: Store, name: str) -> dict[str, Any]:
    session = find_session(store, name)
    if session is None:
        raise StoreError(f"no session named {name!r} (see `hilite session list`)")
    return session


def list_sessions(store: Store) -> list[dict[str, Any]]:
    with store.read() as db:
        rows = db.execute(
            "SELECT s.name, s.created, s.base_image,"
            " (SELECT COUNT(*) FROM steps t WHERE t.session_id = s.id AND t.reverted = 0 AND t.pick IS NOT NULL)"
            " AS steps,"
            " (SELECT COUNT(*) FROM publications p WHERE p.session_id = s.id) AS publications"
            " FROM sessions s ORDER BY s.created"
        ).fetchall()
    return [dict(r) for r in rows]


def steps(store: Store, name: str) -> list[dict[str, Any]]:
    session = get_session(store, name)
    with store.read() as db:
        rows = db.execute("SELECT * FROM steps WHERE session_id = ? ORDER BY number", (session["id"],)).fetchall()
    return [step_dict(r) for r in rows]


def get_step(store: Store, step_id: int) -> dict[str, Any]:
    with store.read() as db:
        row = db.execute("SELECT * FROM steps WHERE id = ?", (step_id,)).fetchone()
    if row is None:
        raise StoreError(f"no step {step_id}")
    return step_dict(row)


def current_image(store: Store, name: str) -> tuple[str, int]:
    """The image the next step starts from, and the step number that made it (0 = the base image)."""
    session = get_session(store, name)
    with store.read() as db:
        row = db.execute(
            "SELECT number, picked_image FROM steps WHERE session_id = ? AND reverted = 0 AND picked_image IS NOT NULL"
            " ORDER BY number DESC LIMIT 1",
            (session["id"],),
        ).fetchone()
    return (row["picked_image"], row["number"]) if row else (session["base_image"], 0)


def start_step(store: Store, name: str, *, input_image: str, instruction: str, knobs: dict[str, Any],
               task_id: str | None = None, reference_image: str | None = None, mask: str | None = None,
               reference_mask: str | None = None) -> dict[str, Any]:
    """A new step in state `running`; a still-unpicked step of the same task is reused (a re-run)."""
    session = get_session(store, name)
    with store.tx() as db:
        if task_id is not None:
            row = db.execute(
                "SELECT id FROM steps WHERE session_id = ? AND task_id = ? AND reverted = 0 AND pick IS NULL",
                (session["id"], task_id),
            ).fetchone()
            if row:
                return get_step_in(db, row["id"])
        number = db.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM steps WHERE session_id = ?",
                            (session["id"],)).fetchone()[0]
        cur = db.execute(
            "INSERT INTO steps (session_id, number, task_id, input_image, reference_image, mask, reference_mask,"
            " instruction, knobs, status, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)",
            (session["id"], number, task_id, input_image, reference_image, mask, reference_mask, instruction,
             _json(knobs), time.time()),
        )
        return get_step_in(db, cur.lastrowid)


def get_step_in(db: sqlite3.Connection, step_id: int) -> dict[str, Any]:
    return step_dict(db.execute("SELECT * FROM steps WHERE id = ?", (step_id,)).fetchone())


def finish_step(store: Store, step_id: int, *, route: dict[str, Any], candidates: list[dict[str, Any]],
                error: str | None = None) -> None:
    """Record the route and the candidates (slot order already shuffled); `failed` when none came out."""
    status = "ready" if candidates else "failed"
    with store.tx() as db:
        db.execute("UPDATE steps SET route = ?, candidates = ?, status = ?, error = ? WHERE id = ?",
                   (_json(route), _json(candidates), status, error, step_id))


def interrupt_running(store: Store) -> int:
    """Steps left `running` by a studio that stopped mid-run become `failed`, saying so."""
    with store.tx() as db:
        return db.execute("UPDATE steps SET status = 'failed', error = 'interrupted: the studio stopped during this"
                          " step; run it again' WHERE status = 'running'").rowcount


def fail_step(store: Store, step_id: int, error: str) -> None:
    with store.tx() as db:
        db.execute("UPDATE steps SET status = 'failed', error = ? WHERE id = ?", (error, step_id))


def check_feedback(feedback: dict[str, Any]) -> dict[str, Any]:
    """HILITE's feedback (a)–(d): two 1–5 scores (or null when not given), offensive + why, free text."""
    out = {k: feedback.get(k) for k in FEEDBACK_FIELDS}
    for key in ("matches_instruction", "matches_original"):
        value = out[key]
        if value is not None and (not is_int(value) or not 1 <= value <= 5):
            raise StoreError(f"feedback `{key}` must be an integer 1–5, got {value!r}")
    out["offensive"] = bool(out["offensive"])
    if not out["offensive"]:
        out["offensive_description"] = None
    for key in ("offensive_description", "comment"):
        if out[key] is not None and not isinstance(out[key], str):
            raise StoreError(f"feedback `{key}` must be text, got {out[key]!r}")
    return out


def pick(store: Store, step_id: int, slot: str, feedback: dict[str, Any]) -> dict[str, Any]:
    """Keep the candidate in `slot`: it becomes the session's current image. Picks once."""
    clean = check_feedback(feedback)
    with store.tx() as db:
        step = get_step_in(db, step_id)
        if step["status"] != "ready":
            raise StoreError(f"step {step['number']} is {step['status']}, not waiting for a pick")
        chosen = next((c for c in step["candidates"] or [] if c["slot"] == slot), None)
        if chosen is None:
            slots = ", ".join(c["slot"] for c in step["candidates"] or [])
            raise StoreError(f"no candidate in slot {slot!r}; slots are {slots}")
        db.execute("UPDATE steps SET pick = ?, picked_image = ?, feedback = ?, status = 'picked' WHERE id = ?",
                   (slot, chosen["image"], _json(clean), step_id))
        return get_step_in(db, step_id)


def revert(store: Store, name: str, number: int) -> int:
    """Back to step `number` (0 = the base image): later steps stay in the history, marked reverted."""
    session = get_session(store, name)
    with store.tx() as db:
        known = {r[0] for r in db.execute("SELECT number FROM steps WHERE session_id = ? AND reverted = 0"
                                          " AND pick IS NOT NULL", (session["id"],))}
        if number != 0 and number not in known:
            raise StoreError(f"session {name!r} has no kept step {number}; kept steps: {sorted(known) or 'none'}")
        cur = db.execute("UPDATE steps SET reverted = 1 WHERE session_id = ? AND number > ? AND reverted = 0",
                         (session["id"], number))
        return cur.rowcount


def kept_steps(all_steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Picked and not reverted: a step whose candidates nobody picked is not kept."""
    return [s for s in all_steps if not s["reverted"] and s["pick"]]


def unpicked_after(all_steps: list[dict[str, Any]], number: int) -> list[int]:
    """Numbers of the live steps after step `number` that nobody picked (a retry with other models, say)."""
    return [s["number"] for s in all_steps if not s["reverted"] and not s["pick"] and s["number"] > number]


def workflow(all_steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a publication keeps of each picked step: every prompt and parameter used (HILITE III-E)."""
    out = []
    for s in kept_steps(all_steps):
        chosen = next(c for c in s["candidates"] if c["slot"] == s["pick"])
        out.append({
            "number": s["number"], "instruction": s["instruction"], "knobs": s["knobs"],
            "intent": (s["route"] or {}).get("intent"), "prompts": (s["route"] or {}).get("models", []),
            "model": chosen["model"], "seed": chosen.get("seed"), "params": chosen.get("params"),
            "prompt": chosen.get("prompt"), "input_image": s["input_image"], "picked_image": s["picked_image"],
            "reference_image": s["reference_image"], "mask": s["mask"], "feedback": s["feedback"],
        })
    return out
