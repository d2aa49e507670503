"""The rated items the studio's store holds (`hilite rate-tasks`): images and instructions by item id."""

from __future__ import annotations

from collections.abc import Iterable

from hilite_cli.stages.tune_judge.dataset import RatedItem
from hilite_cli.store import Store


def store_items(store: Store, wanted: Iterable[str]) -> dict[str, RatedItem]:
    """`{item: RatedItem}` for the wanted ids the store holds, image paths resolved to its blob files."""
    wanted = list(dict.fromkeys(wanted))
    found: dict[str, RatedItem] = {}
    with store.read() as db:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            rows = db.execute(
                "SELECT item, source_image, edited_image, instruction, category FROM rating_items"
                f" WHERE item IN ({','.join('?' * len(chunk))})", chunk,
            ).fetchall()
            for r in rows:
                found[r["item"]] = RatedItem(
                    item=r["item"], source=str(store.blobs.path(r["source_image"])),
                    edited=str(store.blobs.path(r["edited_image"])), instruction=r["instruction"],
                    category=r["category"],
                )
    return found
