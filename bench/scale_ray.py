"""Records per second against Ray workers, for a model-bound and a provider-bound stage, on CPU.

Model-bound: `edit` with a tiny random-weight InstructPix2Pix (diffusers' test config) over N tasks.
Provider-bound: `validate` (A.2 judge, real openai client) against a loopback server answering in
200 ms, `--concurrency` calls in flight per worker. Each stage runs through the same `run_stage`
(the one writer) with the local executor, then with the Ray executor at 1 and 2 workers, in one
process on one local Ray instance (started once, before the timings: its start-up is reported
apart). Prints records/s, scaling efficiency (rate at 2 workers / (2 x rate at 1)) and Ray's
overhead at 1 worker against local ((local rate / Ray rate) - 1). A script, not a test:

    .venv/bin/python bench/scale_ray.py [--tasks 24] [--judge-tasks 400] [--latency 0.2] [--concurrency 4] [--threads 1]

`--mine N1,N2` measures `mine --executor ray` instead, against raw Ray Data doing the same
map_batches in the same run: a stand-in editor actor (bench/mine_utilization.py, `--gpu-s` per image)
then a CPU actor that PNG-encodes (configs/mining.toml png_level) and writes each image,
content-addressed. Each run is a fresh process (Ray started inside the timing, as a user's run
starts it); from N1 and N2 candidates it fits time = fixed + N x marginal for both, and prints the
ratios the scale-efficiency targets name (marginal <= 1.5x raw, fixed <= raw + 2 s):

    .venv/bin/python bench/scale_ray.py --mine 16,64 [--gpu-s 0] [--size 256]

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


class RawEdit:
    """Raw Ray Data's GPU step: decode the source, one batched stand-in edit call, images on as pickles."""

    def __init__(self, editor: Any) -> None:
        self.editor = editor

    def __call__(self, table: Any) -> Any:
        import pickle

        import pyarrow as pa

        from hilite_cli.images import load_image

        out = [pickle.dumps(self.editor.edit(load_image(path), prompt="edit", seeds=list(seeds), params={}))
               for path, seeds in zip(table.column("image").to_pylist(), table.column("seeds").to_pylist(), strict=True)]
        return pa.table({"images": pa.array(out, pa.binary())})


class RawWrite:
    """Raw Ray Data's CPU step: PNG-encode each image and write it, content-addressed."""

    def __init__(self, out: str, level: int) -> None:
        self.out, self.level = out, level

    def __call__(self, table: Any) -> Any:
        import pickle

        import pyarrow as pa

        from hilite_cli.images import encode_image
        from hilite_cli.stages.mine.recorder import write_png

        paths = [str(write_png(encode_image(im, png_level=self.level), self.out, "edits"))
                 for raw in table.column("images").to_pylist() for im in pickle.loads(raw)]  # noqa: S301
        return pa.table({"n": pa.array([len(paths)] * table.num_rows)})


def one_mine_run(kind: str, candidates: int, args: argparse.Namespace, work: Path) -> float:
    """Seconds for one run of `candidates` edits (2 seeds per photo), Ray started inside the timing."""
    import mine_utilization
    import ray.cloudpickle

    from hilite_cli.stages.mine.pipeline import default_png_level

    ray.cloudpickle.register_pickle_by_value(mine_utilization)  # the stand-in travels to the actors by value
    photos = mine_utilization.photos(work / "photos", candidates // 2, args.size)
    start = time.perf_counter()
    if kind == "raw":
        from hilite_cli.engine.ray import connect, data_context

        rd = connect()
        data_context()
        rows = [{"image": str(p), "seeds": [0, 1]} for p in sorted(photos.glob("*.png"))]
        ds = rd.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            RawEdit, fn_constructor_args=(mine_utilization.StandIn(args.gpu_s),), batch_size=1, batch_format="pyarrow",
            compute=rd.data.ActorPoolStrategy(size=1), num_cpus=1,
        ).map_batches(RawWrite, fn_constructor_args=(str(work / "raw"), default_png_level()), batch_size=8,
                      batch_format="pyarrow", compute=rd.data.ActorPoolStrategy(size=1), num_cpus=1)
        assert sum(1 for _ in ds.iter_rows()) == len(rows)
        return time.perf_counter() - start
    from hilite_cli.engine.mine_ray import RayFlow, RayMineSettings
    from hilite_cli.providers import get_provider
    from hilite_cli.stages.judging import Thresholds
    from hilite_cli.stages.mine.flow import ProviderRecipe
    from hilite_cli.stages.mine.inputs import photo_folder_specs
    from hilite_cli.stages.mine.pipeline import MineSettings, MiningRun
    from hilite_cli.stages.mine.prefilter import Prefilter

    standin = mine_utilization.StandIn(args.gpu_s)
    settings = MineSettings(out_dir=work / "mined", pool=work / "pool.jsonl", errors=work / "errors.jsonl", n_sources=1,
                            attempts=2, t2i="flux-schnell", editor="instruct-pix2pix", seed=0, window=256,
                            postprocess_workers=8, max_pending=64, keep_rejected=True)
    stats = MiningRun(settings, photo_folder_specs(photos, ["edit"]), gate=None,
                      prefilter=Prefilter(get_provider("offline"), Thresholds(4.7, 4.7), lowlevel=False),
                      loader=lambda name, **kw: standin, executor=RayFlow(RayMineSettings(workers=1)),
                      recipes=(None, ProviderRecipe("offline"))).run()
    assert stats["jobs"]["passed"] == candidates, stats["jobs"]
    return time.perf_counter() - start


def mine_sweep(args: argparse.Namespace) -> None:
    """Fresh processes of `--one`, fitted to fixed + N x marginal per kind."""
    import json
    import subprocess

    sizes = [int(n) for n in args.mine.split(",")]
    seconds: dict[str, dict[int, float]] = {"raw": {}, "hilite": {}}
    for n in sizes:
        for kind in seconds:
            out = subprocess.run([sys.executable, __file__, "--one", kind, "--mine", str(n), "--gpu-s", str(args.gpu_s),
                                  "--size", str(args.size)], capture_output=True, text=True)
            if out.returncode:
                raise SystemExit(f"{kind} at {n} candidates failed:\n{out.stderr[-3000:]}")
            seconds[kind][n] = float(next(x for x in out.stdout.splitlines() if x.startswith("seconds="))[8:])
            print(f"  {kind:<6} {n:>4} candidates: {seconds[kind][n]:6.2f} s", flush=True)
    n1, n2 = sizes[0], sizes[-1]
    fit = {k: ((v[n2] - v[n1]) / (n2 - n1), v[n1] - n1 * (v[n2] - v[n1]) / (n2 - n1)) for k, v in seconds.items()}
    (rm, rf), (hm, hf) = fit["raw"], fit["hilite"]
    print(json.dumps({"seconds": seconds, "marginal_ms": {"raw": 1000 * rm, "hilite": 1000 * hm},
                      "fixed_s": {"raw": rf, "hilite": hf}}, indent=2))
    print(f"mine --executor ray per extra candidate {1000 * hm:.0f} ms = {hm / rm:.2f}x raw Ray Data ({1000 * rm:.0f} ms); "
          f"fixed start-up {hf:.1f} s = raw {rf:.1f} s {hf - rf:+.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mine", default=None, help="N1,N2: mine on Ray vs raw Ray Data at N1 and N2 candidates")
    parser.add_argument("--one", choices=("raw", "hilite"), default=None, help=argparse.SUPPRESS)
    parser.add_argument("--gpu-s", type=float, default=0.0, help="--mine: stand-in seconds per image")
    parser.add_argument("--size", type=int, default=256, help="--mine: photo side")
    parser.add_argument("--tasks", type=int, default=24, help="edit tasks (2 seeds each)")
    parser.add_argument("--judge-tasks", type=int, default=400, help="candidates to validate")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=4, help="judge calls in flight per worker")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads in the driver: Ray gives each 1-CPU actor OMP_NUM_THREADS=1, so 1 compares like with like")
    args = parser.parse_args()
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    if args.one:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"seconds={one_mine_run(args.one, int(args.mine), args, Path(tmp))}")  # Ray may print to stdout too
        return
    if args.mine:
        mine_sweep(args)
        return
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
