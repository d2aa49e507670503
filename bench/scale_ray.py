"""Records per second against Ray workers, for a model-bound and a provider-bound stage, on CPU.

Model-bound: `edit` with a tiny random-weight InstructPix2Pix (diffusers' test config) over N tasks.
Provider-bound: `validate` (A.2 judge, real openai client) against a loopback server answering in
200 ms, `--concurrency` calls in flight per worker. Each stage runs through the same `run_stage`
(the one writer) with the local executor, then with the Ray executor at 1 and 2 workers, in one
process on one local Ray instance (started once, before the timings: its start-up is reported
apart). Prints records/s, scaling efficiency (rate at 2 workers / (2 x rate at 1)) and Ray's
overhead at 1 worker against local ((local rate / Ray rate) - 1). A script, not a test:

    .venv/bin/python bench/scale_ray.py [--tasks 24] [--judge-tasks 400] [--latency 0.2] [--concurrency 4] [--threads 1]

On this machine's CPUs the model-bound stage can only scale as far as free cores allow; where a GPU
is at hand, run it with --device cuda --gpus-per-worker 1 on a node with >= 2 GPUs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import orjson  # noqa: E402
from support.loopback import Loopback  # noqa: E402
from support.photos import save_photo  # noqa: E402

from hilite_cli.engine.local import local_batches, run_stage  # noqa: E402
from hilite_cli.manifest import ErrorManifest, ManifestWriter, read_manifest  # noqa: E402

A2_REPLY = '{"InstructionAdherence": 4.9, "ImageAesthetic": 4.8}'


def write_tasks(folder: Path, n: int) -> Path:
    names = ("astronaut", "coffee", "chelsea", "rocket")
    photos = [save_photo(folder, name, 32) for name in names]
    path = folder / "tasks.jsonl"
    path.write_bytes(b"".join(orjson.dumps({"id": f"t{i}", "image": photos[i % 4].name,
                                            "instruction": f"make it winter {i}"}) + b"\n" for i in range(n)))
    return path


def timed(make_stage: Callable[[], Any], manifest: Path, mapper: Any, out: Path) -> tuple[float, int]:
    """(seconds, records written) for one run of a fresh stage over `manifest`."""
    stage = make_stage()
    writer, errors = ManifestWriter(str(out)), ErrorManifest(str(out) + ".errors.jsonl")
    start = time.perf_counter()
    try:
        summary = run_stage(stage, read_manifest(str(manifest)), writer, errors, progress=False, mapper=mapper)
    finally:
        writer.close()
        errors.close()
    elapsed = time.perf_counter() - start
    if summary.failed:
        raise SystemExit(f"{stage.name}: {summary.failed} records failed; see {out}.errors.jsonl")
    return elapsed, summary.done


def sweep(label: str, make_stage: Callable[[], Any], manifest: Path, folder: Path) -> dict[str, float]:
    from hilite_cli.engine.ray import RayBatches

    rates: dict[str, float] = {}
    for name, mapper in (("local", local_batches), ("ray-1", RayBatches(workers=1)), ("ray-2", RayBatches(workers=2))):
        seconds, done = timed(make_stage, manifest, mapper, folder / f"{label}-{name}.jsonl")
        rates[name] = done / seconds
        print(f"  {label:<10} {name:<6} {done:>4} records in {seconds:6.2f} s = {rates[name]:6.2f} rec/s", flush=True)
    efficiency = rates["ray-2"] / (2 * rates["ray-1"])
    overhead = rates["local"] / rates["ray-1"] - 1
    print(f"  {label:<10} scaling efficiency 1->2 workers {efficiency:.2f}; Ray overhead at 1 worker vs local {overhead:+.0%}")
    return {**rates, "efficiency": efficiency, "overhead": overhead}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=24, help="edit tasks (2 seeds each)")
    parser.add_argument("--judge-tasks", type=int, default=400, help="candidates to validate")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=4, help="judge calls in flight per worker")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads in the driver: Ray gives each 1-CPU actor OMP_NUM_THREADS=1, so 1 compares like with like")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    os.environ["OPENAI_API_KEY"] = "bench-placeholder"

    from support.tiny_models import build

    from hilite_cli.cli.params import provider_options
    from hilite_cli.engine.ray import connect
    from hilite_cli.stages.edit import EditStage
    from hilite_cli.stages.validate import ValidateStage

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        weights = {"instruct-pix2pix": build("instruct-pix2pix", folder / "ip2p")}
        tasks = write_tasks(folder, args.tasks)
        start = time.perf_counter()
        connect()
        print(f"Ray start-up (once, not in the timings): {time.perf_counter() - start:.1f} s; CPUs: {os.cpu_count()}")

        def editor() -> EditStage:
            return EditStage(out_dir=folder / "edits", models=["instruct-pix2pix"], top_k=None, seeds=2, steps=2,
                             text_influence=None, image_influence=None, weights=weights, device=args.device, dtype=None,
                             shuffle=False)

        # warm-up, untimed: the driver imports diffusers and loads a pipeline once, as a Ray actor's process does
        (folder / "warm").mkdir()
        timed(editor, write_tasks(folder / "warm", 1), local_batches, folder / "warm.jsonl")
        print(f"model-bound: edit, tiny InstructPix2Pix, {args.tasks} tasks x 2 seeds, 2 steps, {args.device}")
        sweep("edit", editor, tasks, folder)

        # candidates for the judge: the same source and output image, distinct instructions
        cands = folder / "cands.jsonl"
        save_photo(folder, "coffee", 32)
        cands.write_bytes(b"".join(orjson.dumps({"id": f"c{i}", "parent": f"t{i}", "image": "coffee.png", "instruction": f"edit {i}",
                                                 "model": "classic", "prompt": f"edit {i}", "seed": 0, "params": {},
                                                 "output": "coffee.png", "slot": "A"}) + b"\n" for i in range(args.judge_tasks)))
        with Loopback(answer=lambda request: A2_REPLY, latency=args.latency) as server:
            options = provider_options(server.openai_url, args.concurrency, None, 0, True)

            def judge() -> ValidateStage:
                return ValidateStage("openai:judge", checks="", batch_size=args.concurrency, provider_options=options)

            print(f"provider-bound: validate, A.2 judge at {args.latency * 1000:.0f} ms per call, "
                  f"{args.judge_tasks} candidates, concurrency {args.concurrency} per worker")
            sweep("validate", judge, cands, folder)


if __name__ == "__main__":
    main()
