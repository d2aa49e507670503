"""GPU busy time as a fraction of wall time in the mining loop, with and without the pre-filter overlapped.

Runs `MiningRun` (real scheduler, real pre-filter through the openai client, no response cache)
against a loopback server that answers A.2/A.3/A.4 after `--latency` seconds, once with
`overlap=True` (pre-filter in the thread pool while the next edit group runs) and once without
(wait for the pre-filter after every model call). Real photos are the sources (the real-photo
mode), so the GPU work is the editing. A script, not a test:

    .venv/bin/python bench/mine_utilization.py --small            # CPU, tiny random-weight pipelines
    python bench/mine_utilization.py                               # GPU: full-size InstructPix2Pix
                                                                   # (SD 1.5 UNet), random init, fp16, 512²

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
    from support.photos import save_photo

    folder.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS[:count]:
        save_photo(folder, name, size=size)
    return folder


def run_once(args: argparse.Namespace, loader: Any, server: Loopback, overlap: bool, work: Path) -> dict[str, Any]:
    from hilite_cli.providers import get_provider
    from hilite_cli.stages.mine.inputs import photo_folder_specs
    from hilite_cli.stages.mine.pipeline import MineSettings, MiningRun
    from hilite_cli.stages.mine.prefilter import Prefilter, Thresholds

    out = work / ("overlap" if overlap else "serial")
    specs = photo_folder_specs(work / "photos", EDITS[: args.edits])
    settings = MineSettings(
        out_dir=out / "mined", pool=out / "pool.jsonl", errors=out / "errors.jsonl", n_sources=1,
        attempts=args.attempts, t2i="flux-schnell", editor="instruct-pix2pix", seed=0, window=args.window,
        postprocess_workers=args.workers, max_pending=args.max_pending, edit_params={"steps": args.steps},
        device=args.device, overlap=overlap,
    )
    provider = get_provider("openai:bench-prefilter", base_url=server.openai_url, concurrency=args.workers * 3,
                            use_cache=False, max_retries=0)
    try:
        stats = MiningRun(settings, specs, gate=None, prefilter=Prefilter(provider, Thresholds(4.7, 4.7)), loader=loader).run()
    finally:
        provider.close()
    util = stats["utilization"]
    return {
        "overlap": overlap,
        "jobs": stats["jobs"]["sampled"],
        "passed": stats["jobs"]["passed"],
        "failed": stats["jobs"]["failed"],
        "loop_s": round(util["wall_s"] - util["load_s"], 3),
        "gpu_busy_s": round(util["gpu_busy_s"], 3),
        "gpu_busy_fraction": round(util["gpu_busy_fraction"], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="tiny random-weight pipelines on CPU")
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
    args.latency = args.latency if args.latency is not None else (0.2 if args.small else 0.5)
    args.device = args.device or ("cpu" if args.small else "cuda")
    os.environ.setdefault("OPENAI_API_KEY", "bench-placeholder")

    with tempfile.TemporaryDirectory() as tmp, Loopback(answer=answer, latency=args.latency) as server:
        work = Path(tmp)
        photos(work / "photos", args.photos, args.size)
        t0 = time.perf_counter()
        loader = make_loader(args.small, args.device, work)
        loader("instruct-pix2pix", weights={}, device=args.device, dtype=None)  # build/load once, outside the timings
        build_s = time.perf_counter() - t0
        results = [run_once(args, loader, server, overlap, work) for overlap in (False, True)]
    report = {
        "device": args.device,
        "model": "tiny instruct-pix2pix" if args.small else "full-size instruct-pix2pix (SD 1.5 UNet, random init, fp16)",
        "size": args.size, "steps": args.steps, "latency_s": args.latency, "provider_calls_per_edit": 3,
        "jobs": args.photos * args.edits * args.attempts, "build_s": round(build_s, 1), "runs": results,
    }
    print(json.dumps(report, indent=2))
    serial, overlapped = results
    print(f"GPU busy: {100 * serial['gpu_busy_fraction']:.1f} % without overlap, "
          f"{100 * overlapped['gpu_busy_fraction']:.1f} % with overlap; wall {serial['loop_s']:.1f} s -> {overlapped['loop_s']:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
