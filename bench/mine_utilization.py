"""GPU busy time as a fraction of wall time in the mining loop: with and without the pre-filter
overlapped, and on the local and the Ray executor.

Runs `MiningRun` (real scheduler, real pre-filter through the openai client, no response cache)
against a loopback server that answers A.2/A.3/A.4 after `--latency` seconds. Real photos are the
sources (the real-photo mode), so the GPU work is the editing. A script, not a test:

    .venv/bin/python bench/mine_utilization.py --small            # CPU, tiny random-weight pipelines
    python bench/mine_utilization.py                               # GPU: full-size InstructPix2Pix
                                                                   # (SD 1.5 UNet), random init, fp16, 512²
    .venv/bin/python bench/mine_utilization.py --standin --size 512 --photos 64 --executors local,ray
        # a stand-in GPU editor that sleeps --gpu-s per image (0.16 s at 512², InstructPix2Pix on an H100;
        # 0.54 s at 1024², FLUX-schnell), so the host's share (decode, PNG, checks, writes) is what varies

With --standin the local run goes twice, at PNG level 6 (PIL's default, what mine used before) and at
configs/mining.toml [images] png_level, and reports the host CPU per candidate of each (this
process's CPU time / candidates): the ratio is the PNG setting's saving. "steady" busy fractions
run from the first edit call to the last (the ones the GPU would see once started); the plain ones
include start-up (on Ray: starting the actors).

Timing does not need real weights: a random-init model of the real architecture costs the same.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.loopback import Loopback, Received  # noqa: E402

EDITS = ["make it winter", "turn it into a watercolour painting", "make it night time", "add warm sunset light"]
PHOTOS = ["astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry"]


def answer(request: Received) -> str:
    """A pre-filter that passes everything: the bench measures time, not yield."""
    text = request.text()
    if text.startswith("You are an expert evaluator"):
        return '{"InstructionAdherence": 4.9, "ImageAesthetic": 4.8}'
    return "yes"


def full_size_ip2p(device: str) -> Any:
    """InstructPix2Pix with the SD 1.5 architecture (UNet 860M, 8 input channels), random weights (fp16 on CUDA)."""
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerAncestralDiscreteScheduler,
        StableDiffusionInstructPix2PixPipeline,
        UNet2DConditionModel,
    )
    from support.tiny_models import write_clip_tokenizer
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=64, in_channels=8, out_channels=4, cross_attention_dim=768)
    vae = AutoencoderKL(
        block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, latent_channels=4, layers_per_block=2, sample_size=512,
    )
    text = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12))
    pipe = StableDiffusionInstructPix2PixPipeline(
        unet=unet, vae=vae, text_encoder=text, tokenizer=write_clip_tokenizer(Path(tempfile.mkdtemp()) / "tok"),
        scheduler=EulerAncestralDiscreteScheduler(), safety_checker=None, feature_extractor=None, image_encoder=None,
        requires_safety_checker=False,
    )
    pipe = pipe.to(device, torch.float16 if device.startswith("cuda") else torch.float32)
    pipe.set_progress_bar_config(disable=True)
    return pipe


class StandIn:
    """A stand-in GPU editor: sleeps `seconds` per image (the GPU's time, no host CPU), then returns the
    source with a seed-dependent block inverted (so every output is distinct and photo-like to encode)."""

    def __init__(self, seconds: float) -> None:
        from hilite_cli.models.registry import get_spec

        self.seconds = seconds
        self.spec = get_spec("instruct-pix2pix")

    def edit(self, image: Any, *, prompt: str | None, seeds: list[int], params: dict[str, Any], **_: Any) -> list[Any]:
        import numpy as np
        from PIL import Image

        time.sleep(self.seconds * len(seeds))
        out = []
        for seed in seeds:
            arr = np.array(image)
            h, w = arr.shape[:2]
            top, left = (seed * 7) % (h // 2), (seed * 13) % (w // 2)
            arr[top:top + h // 4, left:left + w // 4] = 255 - arr[top:top + h // 4, left:left + w // 4]
            out.append(Image.fromarray(arr))
        return out


def make_loader(small: bool, device: str, work: Path) -> Any:
    """A loader for MiningRun: tiny pipelines saved to disk (--small) or the full-size one in memory."""
    from hilite_cli.models.diffusers_editors import make_editor
    from hilite_cli.models.loader import load_model
    from hilite_cli.models.registry import get_spec

    if small:
        from support.tiny_models import build

        weights = {"instruct-pix2pix": build("instruct-pix2pix", work / "ip2p")}
        return lambda name, **kw: load_model(name, **{**kw, "weights": weights})
    editor = make_editor(get_spec("instruct-pix2pix"), full_size_ip2p(device), device)
    return lambda name, **kw: editor


def photos(folder: Path, count: int, size: int) -> Path:
    """`count` distinct photos: the scikit-image ones, then shifted and mirrored copies of them."""
    import numpy as np
    from PIL import Image
    from support.photos import photo

    folder.mkdir(parents=True, exist_ok=True)
    for k in range(count):
        arr = np.roll(np.asarray(photo(PHOTOS[k % len(PHOTOS)], size)), k // len(PHOTOS) * 17, axis=1)
        Image.fromarray(arr[:, ::-1] if k // len(PHOTOS) % 2 else arr).save(folder / f"p{k:03d}.png")
    return folder


def run_once(args: argparse.Namespace, loader: Any, server: Loopback, work: Path, *, overlap: bool = True,
             executor: str = "local", png_level: int | None = None) -> dict[str, Any]:
    from hilite_cli.providers import get_provider
    from hilite_cli.stages.mine.inputs import photo_folder_specs
    from hilite_cli.stages.mine.pipeline import MineSettings, MiningRun, default_png_level
    from hilite_cli.stages.judging import Thresholds
    from hilite_cli.stages.mine.prefilter import Prefilter

    level = default_png_level() if png_level is None else png_level
    out = work / f"{executor}-{'overlap' if overlap else 'serial'}-png{level}"
    specs = photo_folder_specs(work / "photos", EDITS[: args.edits])
    settings = MineSettings(
        out_dir=out / "mined", pool=out / "pool.jsonl", errors=out / "errors.jsonl", n_sources=1,
        attempts=args.attempts, t2i="flux-schnell", editor="instruct-pix2pix", seed=0, window=args.window,
        postprocess_workers=args.workers, max_pending=args.max_pending, edit_params={"steps": args.steps},
        device=args.device, overlap=overlap, png_level=level,
    )
    options = {"base_url": server.openai_url, "concurrency": args.workers * 3, "use_cache": False, "max_retries": 0}
    provider = get_provider("openai:bench-prefilter", **options)
    prefilter = Prefilter(provider, Thresholds(4.7, 4.7))
    cpu0 = time.process_time()
    try:
        if executor == "ray":
            from hilite_cli.engine.mine_ray import RayFlow, RayMineSettings
            from hilite_cli.stages.mine.flow import ProviderRecipe

            run = MiningRun(settings, specs, gate=None, prefilter=prefilter, loader=loader,
                            executor=RayFlow(RayMineSettings(workers=1)),
                            recipes=(None, ProviderRecipe("openai:bench-prefilter", options)))
        else:
            run = MiningRun(settings, specs, gate=None, prefilter=prefilter, loader=loader)
        stats = run.run()
    finally:
        provider.close()
    util = stats["utilization"]
    jobs = stats["jobs"]["sampled"]
    return {
        "executor": executor,
        "overlap": overlap,
        "png_level": level,
        "jobs": jobs,
        "passed": stats["jobs"]["passed"],
        "failed": stats["jobs"]["failed"],
        "loop_s": round(util["wall_s"] - util["load_s"], 3),
        "gpu_busy_s": round(util["gpu_busy_s"], 3),
        "gpu_busy_fraction": round(util["gpu_busy_fraction"], 4),
        "gpu_busy_fraction_steady": round(util["gpu_busy_fraction_steady"], 4),
        "driver_cpu_ms_per_candidate": round(1000 * (time.process_time() - cpu0) / max(1, jobs), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="tiny random-weight pipelines on CPU")
    parser.add_argument("--standin", action="store_true", help="a stand-in editor that sleeps --gpu-s per image")
    parser.add_argument("--gpu-s", type=float, default=None, help="stand-in seconds per image [0.16 at 512², 0.54 at 1024²]")
    parser.add_argument("--executors", default="local", help="comma-separated: local, ray (--standin)")
    parser.add_argument("--photos", type=int, default=4)
    parser.add_argument("--edits", type=int, default=4)
    parser.add_argument("--attempts", type=int, default=4)
    parser.add_argument("--size", type=int, default=None, help="photo side [512, --small: 48]")
    parser.add_argument("--steps", type=int, default=None, help="edit steps [20, --small: 2]")
    parser.add_argument("--latency", type=float, default=None, help="seconds per provider reply [0.5, --small: 0.2]")
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--max-pending", type=int, default=64)
    parser.add_argument("--device", default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    args.size = args.size or (48 if args.small else 512)
    args.steps = args.steps or (2 if args.small else 20)
    args.latency = args.latency if args.latency is not None else (0.2 if args.small or args.standin else 0.5)
    args.device = args.device or ("cpu" if args.small or args.standin else "cuda")
    args.gpu_s = args.gpu_s if args.gpu_s is not None else (0.54 if args.size >= 1024 else 0.16)
    os.environ.setdefault("OPENAI_API_KEY", "bench-placeholder")
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")

    with tempfile.TemporaryDirectory() as tmp, Loopback(answer=answer, latency=args.latency) as server:
        work = Path(tmp)
        photos(work / "photos", args.photos, args.size)
        t0 = time.perf_counter()
        if args.standin:
            standin = StandIn(args.gpu_s)
            loader: Any = lambda name, **kw: standin  # noqa: E731 - pickled to Ray actors by value (run as a script)
        else:
            loader = make_loader(args.small, args.device, work)
            loader("instruct-pix2pix", weights={}, device=args.device, dtype=None)  # build/load once, outside the timings
        build_s = time.perf_counter() - t0
        if args.standin:
            results = [run_once(args, loader, server, work, png_level=6)]
            results += [run_once(args, loader, server, work, executor=e) for e in args.executors.split(",")]
        else:
            results = [run_once(args, loader, server, work, overlap=overlap) for overlap in (False, True)]
    report = {
        "device": args.device,
        "model": f"stand-in editor, {args.gpu_s} s per image" if args.standin else
        "tiny instruct-pix2pix" if args.small else "full-size instruct-pix2pix (SD 1.5 UNet, random init, fp16)",
        "size": args.size, "photos": args.photos, "latency_s": args.latency, "provider_calls_per_edit": 3,
        "jobs": args.photos * args.edits * args.attempts, "build_s": round(build_s, 1), "runs": results,
    }
    print(json.dumps(report, indent=2))
    for r in results:
        print(f"{r['executor']:<6} overlap={r['overlap']!s:<5} png {r['png_level']}: GPU busy {100 * r['gpu_busy_fraction']:.1f} % "
              f"(steady {100 * r['gpu_busy_fraction_steady']:.1f} %), loop {r['loop_s']:.1f} s, "
              f"driver CPU {r['driver_cpu_ms_per_candidate']:.0f} ms per candidate")
    if args.standin:
        six, configured = results[0], results[1]
        print(f"host CPU per candidate, PNG level {configured['png_level']} / level 6: "
              f"{configured['driver_cpu_ms_per_candidate'] / six['driver_cpu_ms_per_candidate']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
