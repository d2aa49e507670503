"""Peak memory of the manifest stages as the manifest grows, and the cost of a `--resume` with nothing left.

Generates synthetic manifests at a small size (10 k records) and a large one, whose records all point
at a few tiny images (so disk stays small; bootstrap, which groups by image content, gets 3 images per
scene of 4 records), runs each command as its own subprocess and reads its peak RSS from
`os.wait4` (the child's own rusage ru_maxrss). The ratio
large/small must stay at or under 1.5 (issue 22, "Flat memory"). The resume row times
`validate --resume` over its finished output against a floor: a bare Python process reading the same
ledger into a set (same interpreter, same run), both in CPU seconds (user + system, from rusage:
the machine is shared, so wall time is mostly waiting); the target is at most 2x. The start-up of
`hilite --help` is shown beside it.

    PYTHONPATH=. .venv/bin/python bench/flat_memory.py --large 100000
    PYTHONPATH=. .venv/bin/python bench/flat_memory.py --large 1000000 --only validate,resume,export

Offline judge only: no network, no model weights. A script, not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson
from PIL import Image

LIMIT = 1.5  # large/small peak RSS
RESUME_LIMIT = 2.0  # resume time / ledger read time
INSTRUCTIONS = ["Make it winter.", "Add a hat.", "Remove the cat.", "Turn it into a watercolour."]
STAGES = ("validate", "resume", "score-dataset", "export", "bootstrap")


def _png(path: Path, value: int) -> str:
    Image.fromarray(np.full((8, 8, 3), value % 256, dtype=np.uint8)).save(path)
    return path.name


def _write(path: Path, rows: Callable[[int], dict], n: int) -> Path:
    with path.open("wb") as fh:
        for i in range(n):
            fh.write(orjson.dumps(rows(i)) + b"\n")
    return path


def candidates(folder: Path, n: int) -> Path:
    """mine's pool: candidates of 4 instructions per task, 4 seeds each, grouped as mine writes them,
    each with mine's difficulty block (validate fills attempts_to_validated_pass)."""
    src, out = _png(folder / "src.png", 10), _png(folder / "out.png", 200)

    def row(i: int) -> dict:
        pair, seed = divmod(i, 4)
        block = {"category": "add", "attempts": 4, "passes": 4, "pass_rate": 1.0, "attempts_to_pass": 1,
                 "censored": False, "band": "1 attempt", "attempts_to_validated_pass": None,
                 "seeds_tried": [0, 1, 2, 3], "seeds_passed": [0, 1, 2, 3]}
        return {"id": f"c{i}", "parent": f"task-{pair // 4}", "image": src, "output": out,
                "instruction": INSTRUCTIONS[pair % 4], "model": "classic", "seed": seed, "params": {"steps": 1},
                "slot": str(seed), "category": "add", "difficulty": block}

    return _write(folder / "pool.jsonl", row, n)


def scored(folder: Path, n: int) -> Path:
    """Scored forward triplets (validate --keep passed, with `passed`): what export and score-dataset read."""
    src, out = _png(folder / "src.png", 10), _png(folder / "out.png", 200)

    def row(i: int) -> dict:
        geo = 3.0 + (i % 20) / 10
        return {"id": f"s{i}", "source": src, "edited": out, "kind": "forward", "parents": [f"c{i}"],
                "instruction": INSTRUCTIONS[i % 4], "model": "classic", "seed": i % 4, "params": {"steps": 1},
                "scores": {"instruction": geo, "aesthetics": geo, "geometric": geo},
                "thresholds": {"aesthetics": 4.0, "instruction": 4.0}, "passed": geo >= 4.0}

    return _write(folder / "scored.jsonl", row, n)


def triplets(folder: Path, n: int) -> Path:
    """Forward triplets and their inverses, 2 + 2 per scene, grouped by scene (as edit/validate write them)."""
    images = folder / "scenes"
    images.mkdir(exist_ok=True)
    with (folder / "triplets.jsonl").open("wb") as fh:
        for scene in range(max(1, n // 4)):
            rgb = (scene % 251, (scene // 251) % 251, (scene // 63001) % 251)
            source = images / f"{scene}.png"
            Image.new("RGB", (4, 4), rgb).save(source)
            for e in range(2):
                edited = images / f"{scene}-{e}.png"
                Image.new("RGB", (4, 4), (rgb[0], rgb[1], 251 + e)).save(edited)
                fid = f"f{scene}-{e}"
                rows = [
                    {"id": fid, "source": str(source), "instruction": INSTRUCTIONS[e], "edited": str(edited),
                     "kind": "forward", "parents": [f"c{scene}-{e}"],
                     "scores": {"instruction": 4.8, "aesthetics": 4.8, "geometric": 4.8}},
                    {"id": f"i{scene}-{e}", "source": str(edited), "instruction": f"undo {e}", "edited": str(source),
                     "kind": "inverse", "parents": [fid]},
                ]
                fh.write(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return folder / "triplets.jsonl"


def run(cmd: list[str], cwd: Path) -> tuple[float, float, float]:
    """(peak RSS in MB, wall seconds, CPU seconds) of one child, from its own rusage (os.wait4); it must
    succeed. CPU time is what the resume ratio compares: on a shared machine wall time is mostly waiting."""
    log = cwd / "stderr.log"
    started = time.perf_counter()
    with log.open("wb") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{log.read_text()[-2000:]}")
    return usage.ru_maxrss / 1024, seconds, usage.ru_utime + usage.ru_stime


def hilite(*args: str) -> list[str]:
    return [sys.executable, "-m", "hilite_cli", *args]


def measure(stage: str, folder: Path, n: int) -> dict:
    """Peak RSS (and seconds) of one stage over `n` records in `folder`."""
    if stage in ("validate", "resume"):
        pool = folder / "pool.jsonl" if (folder / "pool.jsonl").is_file() else candidates(folder, n)
        out = folder / "validated.jsonl"
        if stage == "validate" or not out.is_file():
            rss, secs, _ = run(hilite("validate", str(pool), "--judge", "offline", "--keep", "all", "--no-progress",
                                      "--overwrite", "-o", str(out)), folder)
            if stage == "validate":
                return {"rss": rss, "seconds": secs}
        rss, secs, cpu = run(hilite("validate", str(pool), "--judge", "offline", "--keep", "all", "--no-progress",
                                    "--resume", "-o", str(out)), folder)
        ledger = f"{out}.done"
        _, _, floor = run([sys.executable, "-c", f"s = set(open({ledger!r}).read().splitlines()); print(len(s))"],
                          folder)
        _, _, startup = run(hilite("--help"), folder)
        return {"rss": rss, "seconds": secs, "cpu": cpu, "floor": floor, "startup": startup}
    if stage == "score-dataset":
        data = folder / "scored.jsonl" if (folder / "scored.jsonl").is_file() else scored(folder, n)
        rss, secs, _ = run(hilite("score-dataset", str(data), "--metrics", "ssim", "--sample", "2000", "--no-progress",
                               "--json", str(folder / "results.json"), "-o", str(folder / "score-out.jsonl")), folder)
        return {"rss": rss, "seconds": secs}
    if stage == "export":
        data = folder / "scored.jsonl" if (folder / "scored.jsonl").is_file() else scored(folder, n)
        rss, secs, _ = run(hilite("export", str(data), "--format", "kto", "--to", str(folder / "kto.jsonl")), folder)
        return {"rss": rss, "seconds": secs}
    if stage == "bootstrap":
        data = triplets(folder, n)
        rss, secs, _ = run(hilite("bootstrap", str(data), "--no-progress", "--overwrite", "-o", str(folder / "boot.jsonl")),
                        folder)
        return {"rss": rss, "seconds": secs}
    raise ValueError(stage)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--only", default=",".join(STAGES), help="comma list of: " + ", ".join(STAGES))
    parser.add_argument("--keep", action="store_true", help="keep the generated folders")
    args = parser.parse_args()
    stages = [s for s in args.only.split(",") if s]
    root = Path(tempfile.mkdtemp(prefix="hilite-flatmem-"))
    rows = []
    try:
        for stage in stages:
            figures = {}
            for n in (args.small, args.large):
                folder = root / f"{stage}-{n}"
                folder.mkdir(exist_ok=True)
                figures[n] = measure(stage, folder, n)
                print(f"# {stage} n={n}: {figures[n]}", file=sys.stderr, flush=True)
                if not args.keep:
                    shutil.rmtree(folder, ignore_errors=True)
            small, large = figures[args.small], figures[args.large]
            ratio = large["rss"] / small["rss"]
            row = (f"| {stage} | {small['rss']:.0f} | {large['rss']:.0f} | {ratio:.2f} | "
                   f"{'PASS' if ratio <= LIMIT else 'FAIL'} | {small['seconds']:.1f} | {large['seconds']:.1f} |")
            if "floor" in large:
                t = large["cpu"] / large["floor"]
                row += (f" resume CPU {large['cpu']:.1f} s (of which start-up {large['startup']:.1f} s) / "
                        f"ledger read {large['floor']:.2f} s = {t:.1f}x {'PASS' if t <= RESUME_LIMIT else 'FAIL'} |")
            else:
                row += " |"
            rows.append(row)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(f"| stage | peak MB @ {args.small:,} | peak MB @ {args.large:,} | ratio | ≤ {LIMIT}x | s @ small | s @ large | notes |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
