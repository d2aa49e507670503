"""Contact sheets beside any stage that emits candidates: one PNG per input, labelled by slot only."""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from hilite_cli.core import Record, stable_id
from hilite_cli.images import load_image, safe_join
from hilite_cli.stages.base import Stage

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,100}")


class WithContactSheets(Stage):
    """Runs `inner` and writes `<sheet_dir>/<parent>.png` for each input's candidates.

    Each candidate gets a `sheet` field; the sheet shows slot letters, never model names, so a
    person choosing from it is not biased by the model (HILITE module 4).
    """

    name: ClassVar[str] = "edit"

    def __init__(self, inner: Stage, sheet_dir: Path) -> None:
        self.inner = inner
        self.sheet_dir = Path(sheet_dir).resolve()
        self.name = inner.name  # type: ignore[misc]
        self.batch_size = inner.batch_size  # type: ignore[misc]

    def setup(self) -> None:
        self.inner.setup()

    def teardown(self) -> None:
        self.inner.teardown()

    def key(self, record: Record) -> str:
        return self.inner.key(record)

    def __call__(self, batch: list[Record]) -> list[Record]:
        from hilite_cli.report.contact_sheet import contact_sheet

        out = self.inner(batch)
        groups: dict[str, list[Record]] = {}
        for rec in out:
            if not rec.get("error") and rec.get("slot"):
                groups.setdefault(str(rec["parent"]), []).append(rec)
        for parent, cands in groups.items():
            name = parent if _SAFE_NAME.fullmatch(parent) else stable_id(parent)  # ids come from user input
            path = contact_sheet(
                load_image(cands[0]["image"]),
                [(c["slot"], load_image(c["output"])) for c in sorted(cands, key=lambda c: (len(c["slot"]), c["slot"]))],
                safe_join(self.sheet_dir, f"{name}.png"),
            )
            for c in cands:
                c["sheet"] = str(path)
        return out
