"""After the offline demo: say which tasks left no triplet, and why, measured on their candidates.

The classic editor's tone edits (warmer, cooler, brighter) shift every pixel a little. NHR's
low-level check only counts a pixel as changed above `configs/thresholds.toml [lowlevel]
diff_threshold` (40 levels), so such subtle global edits are rejected by design: this prints the
largest change each one made, so the demo's rejections are explained instead of silent.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from hilite_cli.images import load_image
from hilite_cli.manifest import read_records
from hilite_cli.metrics.lowlevel import lowlevel_check, lowlevel_settings


def main(candidates: str, dataset: str) -> None:
    kept = {(Path(r["source"]).name, r["instruction"]) for r in read_records(dataset) if r.get("kind") == "forward"}
    by_task: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for c in read_records(candidates):
        by_task[(Path(c["image"]).name, c["instruction"])].append(c)
    threshold = lowlevel_settings()["diff_threshold"]
    for (image, instruction), cands in sorted(by_task.items()):
        if (image, instruction) in kept:
            continue
        source_img = load_image(cands[0]["image"])
        source = np.asarray(source_img)
        edited = np.asarray(load_image(cands[0]["output"]).resize(source_img.size))
        result = lowlevel_check(source, edited)
        if result.reason == "no_change":
            biggest = int(np.abs(edited.astype(np.int16) - source.astype(np.int16)).max())
            why = (f"its largest pixel change is {biggest} levels, not above NHR's low-level threshold of {threshold}: "
                   "rejected, as NHR intends for so subtle an edit")
        else:
            why = f"the low-level check says {result.reason or 'passed'}; see the errors manifests for the rest"
        print(f'   {image} "{instruction}": no triplet; {why}', file=sys.stderr)

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
