"""Triplets per category for the same budget: `mine --schedule uniform` against `--schedule adaptive`.

Runs the real `MiningRun` (real schedulers, real state file, real low-level pre-filter) with a
synthetic editor whose pass rate per instruction category is known (tests/support/synthetic_editor.py),
on real photos shipped with scikit-image. Both runs get the same sources, instructions, M, seed and
global budget (the uniform queue: pairs x M jobs). A script, not a test; CPU only, a few seconds:

    .venv/bin/python bench/adaptive_schedule.py
    .venv/bin/python bench/adaptive_schedule.py --rates easy=0.9,weak=0.1,hopeless=0 --attempts 4 --until-first-pass

Printed per category and schedule: attempts spent, passing attempts (triplet candidates), pairs
with at least one pass (triplets after `validate --select best`), and the budget use.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.photos import save_photo  # noqa: E402
from support.synthetic_editor import STANDS_FOR, SyntheticEditor, synthetic_loader  # noqa: E402

PHOTOS = ["astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry", "horse", "hubble_deep_field"]


def specs(folder: Path, photos: int, per_category: int, rates: dict[str, float]) -> list[dict[str, Any]]:
    """One photo spec per photo, each with `per_category` instructions of every category."""
    out = []
    for name in PHOTOS[:photos]:
        path = save_photo(folder, name, size=32)
        edits = [f"{c}: edit {i}" for c in rates for i in range(per_category)]
        out.append({"id": name, "image": str(path), "edits": edits, "category": {e: e.split(":")[0] for e in edits}})
    return out


def run(schedule: str, folder: Path, spec_list: list[dict[str, Any]], rates: dict[str, float], args: argparse.Namespace) -> dict[str, Any]:
    from hilite_cli.providers import get_provider
    from hilite_cli.stages.judging import Thresholds
    from hilite_cli.stages.mine.pipeline import MineSettings, MiningRun
    from hilite_cli.stages.mine.prefilter import Prefilter

    out = folder / schedule
    settings = MineSettings(
        out_dir=out / "mined", pool=out / "pool.jsonl", errors=out / "errors.jsonl", n_sources=1,
        attempts=args.attempts, t2i="flux-schnell", editor=STANDS_FOR, seed=args.seed, window=args.window,
        postprocess_workers=2, max_pending=16, until_first_pass=args.until_first_pass, schedule=schedule,
    )
    editor = SyntheticEditor(rates)
    prefilter = Prefilter(get_provider("offline"), Thresholds(aesthetics=4.7, instruction=4.7))
    stats = MiningRun(settings, spec_list, gate=None, prefilter=prefilter, loader=synthetic_loader(editor)).run()
    state = [json.loads(x) for x in settings.state_path.read_text().splitlines() if x.strip()]
    jobs = [e for e in state if e["type"] == "job"]
    attempts = Counter(e["instruction"].split(":")[0] for e in jobs)
    passes = Counter(e["instruction"].split(":")[0] for e in jobs if e["outcome"] == "passed")
    pairs = Counter(c for c, _, _ in {(e["instruction"].split(":")[0], e["source"], e["instruction"]) for e in jobs if e["outcome"] == "passed"})
    return {"attempts": attempts, "passes": passes, "pairs": pairs, "drawn": len(jobs),
            "budget": stats["schedule"]["job_budget"] if stats["schedule"] else stats["jobs"]["queue"],
            "stopped_by": stats["budget"]["stopped_by"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="easy=0.8,medium=0.35,weak=0.1,hopeless=0.0",
                        help="category=pass rate of the synthetic editor, comma-separated")
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument("--per-category", type=int, default=3, help="instructions per category per photo")
    parser.add_argument("--attempts", type=int, default=4, help="M")
    parser.add_argument("--window", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--until-first-pass", action="store_true")
    args = parser.parse_args()
    rates = {k: float(v) for k, v in (item.split("=") for item in args.rates.split(","))}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec_list = specs(folder, args.photos, args.per_category, rates)
        results = {s: run(s, folder, spec_list, rates, args) for s in ("uniform", "adaptive")}
    print(f"{args.photos} photos x {len(rates) * args.per_category} instructions, M={args.attempts}, seed {args.seed}"
          f"{', until first pass' if args.until_first_pass else ''}")
    header = f"{'category':<10} {'rate':>5} | {'uniform: attempts  passes  pairs':>34} | {'adaptive: attempts  passes  pairs':>35}"
    print(header)
    print("-" * len(header))
    for c, rate in rates.items():
        u, a = results["uniform"], results["adaptive"]
        print(f"{c:<10} {rate:>5.2f} | {u['attempts'][c]:>18} {u['passes'][c]:>7} {u['pairs'][c]:>6} |"
              f" {a['attempts'][c]:>19} {a['passes'][c]:>7} {a['pairs'][c]:>6}")
    for s, r in results.items():
        print(f"{s}: {r['drawn']} of {r['budget']} budgeted attempts drawn ({100 * r['drawn'] / r['budget']:.1f} %), "
              f"{sum(r['passes'].values())} passing attempts, {sum(r['pairs'].values())} pairs with a pass; stopped by {r['stopped_by']}")


if __name__ == "__main__":
    main()
