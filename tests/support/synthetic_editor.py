"""An editor whose pre-filter pass rate per instruction category is known, for schedule comparisons.

The instruction names its category as its first word (`weak: add a hat 3`). An attempt "succeeds"
when a hash of (instruction, seed) falls under that category's rate: the editor then inverts one
central square (one connected change: the low-level check passes); otherwise it returns the source
unchanged (the low-level check rejects it as `no_change`). Deterministic, no weights.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

from hilite_cli.models.registry import get_spec


# The registry entry it stands in for: an editor whose seeds give different images, so mining draws
# every attempt (`classic` is deterministic: one attempt per job, whatever M is).
STANDS_FOR = "instruct-pix2pix"


def _unit(instruction: str, seed: int) -> float:
    digest = hashlib.sha256(f"{instruction}\0{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class SyntheticEditor:
    """Stands in for the `STANDS_FOR` registry entry, without its weights."""

    seed_note = "synthetic editor: success drawn per (instruction, seed) at its category's known rate"

    def __init__(self, rates: Mapping[str, float]) -> None:
        self.rates = dict(rates)
        self.spec = get_spec(STANDS_FOR)
        self.calls = 0

    def category(self, instruction: str) -> str:
        return instruction.split(":", 1)[0].strip()

    def succeeds(self, instruction: str, seed: int) -> bool:
        return _unit(instruction, seed) < self.rates[self.category(instruction)]

    def edit(self, image: Image.Image, *, prompt: str, seeds: Sequence[int], params: dict[str, Any], **_: Any) -> list[Image.Image]:
        self.calls += 1
        out = []
        for seed in seeds:
            arr = np.asarray(image.convert("RGB")).copy()
            if self.succeeds(prompt, seed):
                h, w = arr.shape[:2]
                arr[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = 255 - arr[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]
            out.append(Image.fromarray(arr))
        return out


def synthetic_loader(editor: SyntheticEditor):
    """A `MiningRun` loader that hands out `editor` for any name."""

    def load(name: str, **_: Any) -> SyntheticEditor:
        return editor

    return load
