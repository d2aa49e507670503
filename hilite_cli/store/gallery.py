"""Publications (HILITE module 5) and the gallery over them (module 6): FTS5 search, likes, sorting."""

from __future__ import annotations

import re
import time
from typing import Any

import orjson

from hilite_cli.store import sessions
from hilite_cli.store.db import Store, StoreError

_SELECT = "SELECT p.*, s.name AS session FROM publications p JOIN sessions s ON s.id = p.session_id"
SORTS = {"likes": "p.likes DESC, p.created DESC", "date": "p.created DESC"}


def publish(store: Store, name: str, *, title: str, description: str, public: bool,
            satisfaction: int | None) -> int:
    """Freeze the session's kept steps into a publication; the FTS row holds the original prompts."""
    if not title.strip():
        raise StoreError("a publication needs a title")
    if satisfaction is not None and not 1 <= satisfaction <= 5:
        raise StoreError(f"satisfaction must be 1–5, got {satisfaction}")
    session = sessions.get_session(store, name)
    flow = sessions.workflow(sessions.steps(store, name))
    if not flow:
        raise StoreError(f"session {name!r} has no picked step to publish; pick a candidate first")
    final = flow[-1]["picked_image"]
    prompts = " ".join(s["instruction"] for s in flow)
    with store.tx() as db:
        cur = db.execute(
            "INSERT INTO publications (session_id, title, description, public, satisfaction, original_image,"
            " final_image, workflow, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (session["id"], title.strip(), description.strip(), int(public), satisfaction, session["base_image"],
             final, orjson.dumps(flow).decode(), time.time()),
        )
        db.execute("INSERT INTO publications_fts (rowid, title, description, prompts) VALUES (?, ?, ?, ?)",
                   (cur.lastrowid, title, description, prompts))
        return int(cur.lastrowid)


def _fts_query(text: str) -> str | None:
    """User words as a prefix-matching AND query; FTS5 syntax characters never reach the parser."""
    words = re.findall(r"\w+", text)
    return " ".join(f'"{w}"*' for w in words) or None


def _row(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["public"] = bool(out["public"])
    out["workflow"] = orjson.loads(out["workflow"])
    return out


def search(store: Store, query: str = "", sort: str = "date", include_private: bool = False) -> list[dict[str, Any]]:
    if sort not in SORTS:
        raise StoreError(f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
    where, args = [], []
    match = _fts_query(query)
    if match:
        where.append("p.id IN (SELECT rowid FROM publications_fts WHERE publications_fts MATCH ?)")
        args.append(match)
    if not include_private:
        where.append("p.public = 1")
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + f" ORDER BY {SORTS[sort]}"
    with store.read() as db:
        return [_row(r) for r in db.execute(sql, args).fetchall()]


def get(store: Store, publication: int) -> dict[str, Any]:
    with store.read() as db:
        row = db.execute(_SELECT + " WHERE p.id = ?", (publication,)).fetchone()
    if row is None:
        raise StoreError(f"no publication {publication}")
    return _row(row)


def like(store: Store, publication: int) -> int:
    with store.tx() as db:
        cur = db.execute("UPDATE publications SET likes = likes + 1 WHERE id = ?", (publication,))
        if not cur.rowcount:
            raise StoreError(f"no publication {publication}")
        return int(db.execute("SELECT likes FROM publications WHERE id = ?", (publication,)).fetchone()[0])
