"""Seconds per image: plain diffusers (one image per call) vs hilite's batched Editor / TextToImage.

Full-size architectures with random weights (configs written inline, nothing downloaded): timing
does not depend on the weights. Both approaches run in the same process on the same pipeline
object, after a warm-up call each, so the ratio is a like-for-like comparison.

    python bench/edit_throughput.py                 # GPU: InstructPix2Pix 512², 20 steps, M=16; FLUX.1-schnell 1024², 4 steps
    python bench/edit_throughput.py --small         # CPU check at tiny sizes (same code path)
    python bench/edit_throughput.py --only ip2p --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from hilite_cli.models.diffusers_editors import DiffusersEditor
from hilite_cli.models.loader import resolve_device, resolve_dtype
from hilite_cli.models.registry import get_spec
from hilite_cli.models.t2i import DiffusersTextToImage

PROMPT = "turn the sky into a starry night"
T2I_PROMPT = "a lighthouse on a rocky coast at dusk, realistic photo"

# The character-level tokenizer below numbers <|startoftext|> 0 and <|endoftext|> 1.
TOKEN_IDS = {"bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1}
# Real architectures (SD 1.5 UNet with InstructPix2Pix's 8 input channels, SD VAE, CLIP ViT-L/14 text;
# FLUX.1-schnell transformer, FLUX VAE, CLIP-L + T5-XXL) and tiny ones for --small.
FULL = {
    "clip": dict(**TOKEN_IDS, vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                 num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768),
    "unet": dict(sample_size=64, in_channels=8, out_channels=4, layers_per_block=2,
                 block_out_channels=(320, 640, 1280, 1280),
                 down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
                 up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
                 cross_attention_dim=768, attention_head_dim=8),
    "sd_vae": dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4,
                   down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                   sample_size=512, scaling_factor=0.18215),
    "flux": dict(patch_size=1, in_channels=64, num_layers=19, num_single_layers=38, attention_head_dim=128,
                 num_attention_heads=24, joint_attention_dim=4096, pooled_projection_dim=768,
                 guidance_embeds=False, axes_dims_rope=(16, 56, 56)),
    "t5": dict(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
               feed_forward_proj="gated-gelu", relative_attention_num_buckets=32, decoder_start_token_id=0),
    "flux_vae": dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=16,
                     down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                     sample_size=1024, scaling_factor=0.3611, shift_factor=0.1159,
                     use_quant_conv=False, use_post_quant_conv=False),
}
SMALL = {
    "clip": dict(**TOKEN_IDS, vocab_size=1000, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                 num_attention_heads=4, max_position_embeddings=77, projection_dim=32),
    "unet": dict(sample_size=32, in_channels=8, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
                 down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                 up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32),
    "sd_vae": dict(block_out_channels=(32, 64), latent_channels=4,
                   down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2),
    "flux": dict(patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16,
                 num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32, axes_dims_rope=(4, 4, 8)),
    "t5": dict(vocab_size=64, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
               relative_attention_num_buckets=8, decoder_start_token_id=0),
    "flux_vae": dict(block_out_channels=(8, 8), layers_per_block=1, latent_channels=4, norm_num_groups=4,
                     down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                     use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.0609, scaling_factor=1.5035),
}


@dataclass
class Result:
    workload: str
    device: str
    dtype: str
    images: int
    batch: int
    plain_s_per_img: float
    batched_s_per_img: float
    speedup: float


def clip_tokenizer(folder: Path) -> Any:
    """A character-level CLIP tokenizer (vocab.json + merges.txt written here); pads to 77 like the real one."""
    from transformers import CLIPTokenizer

    chars = [chr(c) for c in range(33, 127)]
    tokens = ["<|startoftext|>", "<|endoftext|>", *chars, *(c + "</w>" for c in chars)]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return CLIPTokenizer(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"), model_max_length=77)


def t5_tokenizer() -> Any:
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [(c, -5.0) for c in "abcdefghijklmnopqrstuvwxyz,."]
    return T5Tokenizer(vocab=pieces, extra_ids=0)


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(device: str, fn: Any) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def build_ip2p(cfg: dict[str, dict], device: str, dtype: Any, folder: Path) -> Any:
    import torch
    from diffusers import AutoencoderKL, EulerAncestralDiscreteScheduler, StableDiffusionInstructPix2PixPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    with torch.device(device):
        pipe = StableDiffusionInstructPix2PixPipeline(
            unet=UNet2DConditionModel(**cfg["unet"]),
            vae=AutoencoderKL(**cfg["sd_vae"]),
            text_encoder=CLIPTextModel(CLIPTextConfig(**cfg["clip"])),
            tokenizer=clip_tokenizer(folder),
            scheduler=EulerAncestralDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear"),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    pipe.to(device=device, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_flux(cfg: dict[str, dict], device: str, dtype: Any, folder: Path) -> Any:
    import torch
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # build the 12B transformer and T5-XXL directly in half precision
    try:
        with torch.device(device):
            pipe = FluxPipeline(
                transformer=FluxTransformer2DModel(**cfg["flux"]),
                vae=AutoencoderKL(**cfg["flux_vae"]),
                text_encoder=CLIPTextModel(CLIPTextConfig(**cfg["clip"])),
                text_encoder_2=T5EncoderModel(T5Config(**cfg["t5"])),
                tokenizer=clip_tokenizer(folder),
                tokenizer_2=t5_tokenizer(),
                scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0, use_dynamic_shifting=False),
            )
    finally:
        torch.set_default_dtype(previous)
    pipe.to(device=device, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def bench_ip2p(cfg: dict[str, dict], device: str, dtype: Any, size: int, steps: int, m: int, folder: Path) -> Result:
    """M edits of one image: M one-image calls vs one Editor.edit call with M seeds."""
    import torch

    pipe = build_ip2p(cfg, device, dtype, folder)
    editor = DiffusersEditor(get_spec("instruct-pix2pix"), pipe, device)
    image = Image.new("RGB", (size, size), (120, 140, 160))
    params = {"steps": steps}
    seeds = list(range(m))

    def plain() -> None:
        for s in seeds:
            pipe(prompt=PROMPT, image=image, num_inference_steps=steps, guidance_scale=7.5, image_guidance_scale=1.5,
                 generator=torch.Generator(device).manual_seed(s))

    def batched() -> None:
        editor.edit(image, prompt=PROMPT, seeds=seeds, params=params)

    pipe(prompt=PROMPT, image=image, num_inference_steps=steps, num_images_per_prompt=1)  # warm-up
    editor.edit(image, prompt=PROMPT, seeds=seeds, params=params)
    t_plain, t_batch = timed(device, plain) / m, timed(device, batched) / m
    del pipe, editor
    return Result(f"instruct-pix2pix {size}² {steps} steps M={m}", device, str(dtype), m, m, t_plain, t_batch, t_plain / t_batch)


def bench_flux(cfg: dict[str, dict], device: str, dtype: Any, size: int, steps: int, m: int, batch: int, folder: Path) -> Result:
    """M source images: M one-image calls vs M/batch TextToImage.generate calls of `batch` seeds."""
    import torch

    pipe = build_flux(cfg, device, dtype, folder)
    t2i = DiffusersTextToImage(get_spec("flux-schnell"), pipe, device)
    params = {"steps": steps}
    seeds = list(range(m))
    fixed = {"guidance_scale": 0.0, "max_sequence_length": 256, "num_inference_steps": steps, "width": size, "height": size}

    def plain() -> None:
        for s in seeds:
            pipe(prompt=T2I_PROMPT, generator=torch.Generator(device).manual_seed(s), **fixed)

    def batched() -> None:
        for i in range(0, m, batch):
            t2i.generate(T2I_PROMPT, seeds=seeds[i : i + batch], width=size, height=size, params=params)

    pipe(prompt=T2I_PROMPT, **fixed)  # warm-up
    t2i.generate(T2I_PROMPT, seeds=seeds[:batch], width=size, height=size, params=params)
    t_plain, t_batch = timed(device, plain) / m, timed(device, batched) / m
    del pipe, t2i
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return Result(f"flux-schnell {size}² {steps} steps", device, str(dtype), m, batch, t_plain, t_batch, t_plain / t_batch)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="tiny architectures and sizes (CPU check)")
    parser.add_argument("--only", choices=["ip2p", "flux"], help="run one workload")
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default=None, help="fp32 | fp16 | bf16 (default: bf16/fp16 on CUDA, fp32 on CPU)")
    parser.add_argument("--m", type=int, default=None, help="images per workload (default 16; 4 with --small)")
    parser.add_argument("--flux-batch", type=int, default=4, help="seeds per FLUX call in the batched run")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    dtype = resolve_dtype(device, args.dtype)
    cfg = SMALL if args.small else FULL
    m = args.m or (4 if args.small else 16)
    ip2p_size, ip2p_steps = (64, 2) if args.small else (512, 20)
    flux_size, flux_steps = (64, 2) if args.small else (1024, 4)
    flux_m = m if args.small else 8
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "ip2p"):
            results.append(bench_ip2p(cfg, device, dtype, ip2p_size, ip2p_steps, m, Path(tmp)))
            print(_line(results[-1]), flush=True)
        if args.only in (None, "flux"):
            batch = min(args.flux_batch, flux_m)
            results.append(bench_flux(cfg, device, dtype, flux_size, flux_steps, flux_m, batch, Path(tmp)))
            print(_line(results[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n", encoding="utf-8")
    return 0


def _line(r: Result) -> str:
    return (
        f"{r.workload} [{r.device} {r.dtype}]: plain {r.plain_s_per_img:.3f} s/img, "
        f"batched (batch {r.batch}) {r.batched_s_per_img:.3f} s/img, speed-up x{r.speedup:.2f}"
    )


if __name__ == "__main__":
    sys.exit(main())
