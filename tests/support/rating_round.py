"""A rating round in a real store: items added as `rate-tasks` adds them, rated by three raters (tune-judge tests)."""

from __future__ import annotations

from pathlib import Path

import orjson
from support.photos import save_photo

from hilite_cli.store import Store, ratings

RATERS = ["ann", "bo", "cy"]
PHOTOS = ["astronaut", "coffee", "chelsea", "rocket"]
# cy is a harsh rater: one point below the others on both axes (clipped at 1)
HARSH = {"ann": 0, "bo": 0, "cy": -1}


def item_scores(k: int) -> tuple[int, int]:
    """Bimodal by design (NHR Fig. 7): every third item is a clear failure."""
    return (1, 2) if k % 3 == 0 else (5, 5)


def make_rated_store(tmp_path: Path) -> tuple[Store, Path]:
    """A store with 12 items in two categories, two raters each; returns it and the exported ratings."""
    for name in PHOTOS:
        save_photo(tmp_path, name, 32)
    store = Store(tmp_path / "data")
    ratings.ensure_raters(store, RATERS)
    for k in range(12):
        src, edi = PHOTOS[k % 4], PHOTOS[(k + 1) % 4]
        ratings.add_item(
            store, f"it{k:02d}", source_image=store.blobs.put_file(tmp_path / f"{src}.png"),
            edited_image=store.blobs.put_file(tmp_path / f"{edi}.png"), instruction=f"turn the {src} into a {edi}",
            category="remove" if k % 2 else "add", record={}, raters=RATERS, per_item=2,
        )
    with store.read() as db:
        pairs = db.execute("SELECT item, rater FROM assignments").fetchall()
    for row in pairs:
        adh, aes = item_scores(int(row["item"][2:]))
        off = HARSH[row["rater"]]
        ratings.rate(store, row["rater"], row["item"], instruction=max(1, adh + off), aesthetics=max(1, aes + off))
    path = tmp_path / "ratings.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in ratings.export(store)))
    return store, path
