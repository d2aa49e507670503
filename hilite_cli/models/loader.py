"""Load a registered model once per process: weights from the HF cache by hub id, or a local folder.

Device and dtype are chosen here (CUDA: bf16 where supported, else fp16; CPU: fp32) and can be
overridden. Missing weights become a `ModelLoadError` that says how to fetch them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hilite_cli.models.base import Editor, ModelLoadError, ModelSpec, TextToImage
from hilite_cli.models.registry import get_spec

_DTYPES = {"fp32": "float32", "float32": "float32", "fp16": "float16", "float16": "float16", "bf16": "bfloat16", "bfloat16": "bfloat16"}
_PIPELINES: dict[tuple[str, ...], Any] = {}


def check_device(device: str | None) -> None:
    """A device torch knows and this machine has, else ValueError in one line (checked before any record)."""
    if not device:
        return
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"--device {device!r} is not a device torch knows; use cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device}: no CUDA GPU is visible here (torch {torch.__version__}); use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"--device {device}: Apple MPS is not available here; use --device cpu")
    elif dev.type != "cpu":
        raise ValueError(f"--device {device}: hilite runs models on cpu, cuda or mps, not {dev.type}")


def check_dtype(dtype: str | None) -> None:
    """A dtype name the loader understands, else ValueError listing them."""
    if dtype and dtype not in _DTYPES:
        raise ValueError(f"--dtype {dtype!r} is not a dtype hilite knows; use one of {', '.join(sorted(_DTYPES))}")


def check_weights(weights: dict[str, Path] | None) -> None:
    """--weights names registered models (a typo would be silently ignored otherwise)."""
    from hilite_cli.models.registry import load_registry

    registry = load_registry()
    unknown = [name for name in (weights or {}) if name not in registry]
    if unknown:
        raise ValueError(f"--weights {unknown[0]}=…: no model {unknown[0]!r} is registered; see `hilite models`")


def resolve_device(device: str | None) -> str:
    """`device` as given, else "cuda" when a GPU is visible, else "cpu"."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(device: str, dtype: str | None) -> Any:
    """A torch dtype: the one named, else bf16/fp16 on CUDA and fp32 elsewhere (CPU half is slow and lossy)."""
    import torch

    if dtype:
        check_dtype(dtype)
        return getattr(torch, _DTYPES[dtype])
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def _fetch_hint(spec: ModelSpec, source: str, exc: BaseException) -> str:
    offline = " (HF_HUB_OFFLINE is set, so nothing is downloaded)" if os.environ.get("HF_HUB_OFFLINE") else ""
    repos = [spec.hub_id, spec.options.get("controlnet_hub_id"), spec.options.get("ip_adapter_repo")]
    fetch = " and ".join(f"`hf download {repo}`" for repo in repos if repo)
    # The hint comes first; the library's own text follows on the same line, without its pointer to a
    # stack trace the user is not shown.
    detail = " ".join(str(exc).replace("Please check out the root cause in the stacktrace above.", "").split())
    return (
        f"cannot load weights for model {spec.name!r} from {source}{offline}: fetch them with {fetch} or pass "
        f"`--weights {spec.name}=DIR` with a diffusers pipeline folder ({type(exc).__name__}: {detail})"
    )


def _components(spec: ModelSpec, local: Path | None, dtype: Any) -> dict[str, Any]:
    """Components the pipeline folder does not hold: the ControlNet lives in its own hub repo."""
    hub_id = spec.options.get("controlnet_hub_id")
    if not hub_id or (local is not None and (local / "controlnet").is_dir()):
        return {}
    from diffusers import ControlNetModel

    return {"controlnet": ControlNetModel.from_pretrained(hub_id, torch_dtype=dtype)}


def _assemble_paint_by_example(source: str, dtype: Any) -> Any:
    """Paint-by-Example component by component.

    The pipeline is deprecated in diffusers and its model_index.json names an image-encoder module
    that diffusers no longer resolves, so `from_pretrained` on the folder fails; the subfolders load fine.
    """
    from diffusers import AutoencoderKL, PaintByExamplePipeline, PNDMScheduler, UNet2DConditionModel
    from diffusers.pipelines.deprecated.paint_by_example import PaintByExampleImageEncoder
    from transformers import AutoImageProcessor

    return PaintByExamplePipeline(
        vae=AutoencoderKL.from_pretrained(source, subfolder="vae", torch_dtype=dtype),
        image_encoder=PaintByExampleImageEncoder.from_pretrained(source, subfolder="image_encoder", torch_dtype=dtype),
        unet=UNet2DConditionModel.from_pretrained(source, subfolder="unet", torch_dtype=dtype),
        scheduler=PNDMScheduler.from_pretrained(source, subfolder="scheduler"),
        safety_checker=None,
        feature_extractor=AutoImageProcessor.from_pretrained(source, subfolder="feature_extractor"),
        requires_safety_checker=False,
    )


def _attach_adapters(spec: ModelSpec, pipe: Any, local: Path | None) -> None:
    """IP-Adapter weights and InstantStyle block scales for style-transfer specs.

    A local weights folder may carry the adapter under `ip_adapter/` (same layout as the hub repo).
    """
    repo = spec.options.get("ip_adapter_repo")
    if not repo:
        return
    if local is not None and (local / "ip_adapter").is_dir():
        repo = str(local / "ip_adapter")
    pipe.load_ip_adapter(repo, subfolder=spec.options.get("ip_adapter_subfolder"), weight_name=spec.options["ip_adapter_weight"])
    pipe.set_ip_adapter_scale(spec.options.get("ip_adapter_scale", 1.0))


def load_pipeline(spec: ModelSpec, *, weights: Path | None, device: str, dtype: Any) -> Any:
    """The diffusers pipeline for `spec`, loaded once per (pipeline, weights, adapters, device, dtype) and reused.

    Entries over the same weights (flux-kontext and its inpainting sibling, the AnyDoor stand-in) share modules.
    """
    source = str(weights) if weights is not None else spec.hub_id
    key = (spec.pipeline, source, repr(sorted(spec.options.items())), device, str(dtype))
    if key in _PIPELINES:
        return _PIPELINES[key]
    if weights is not None and not Path(weights).is_dir():
        raise ModelLoadError(f"--weights {spec.name}={weights}: not a directory holding a diffusers pipeline", "weights_missing")
    import diffusers

    try:
        if spec.pipeline == "PaintByExamplePipeline":
            pipe = _assemble_paint_by_example(source, dtype)
        elif (shared := _same_weights(key)) is not None:
            pipe = getattr(diffusers, spec.pipeline).from_pipe(shared)
        else:
            pipeline_cls = getattr(diffusers, spec.pipeline)
            pipe = pipeline_cls.from_pretrained(source, torch_dtype=dtype, **_components(spec, weights, dtype))
        _attach_adapters(spec, pipe, weights)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(_fetch_hint(spec, source, exc), "weights_missing") from exc
    except ImportError as exc:
        raise ModelLoadError(f"model {spec.name!r} needs a package that is not installed: {exc}", "missing_dependency") from exc
    import torch

    try:
        pipe = pipe.to(device)
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        raise ModelLoadError(
            f"model {spec.name!r} does not fit in GPU memory as {dtype}: free the GPU (other loaded models or "
            "processes) or run with --dtype bf16/fp16",
            "out_of_memory",
        ) from None
    pipe.set_progress_bar_config(disable=True)
    _PIPELINES[key] = pipe
    return pipe


def _same_weights(key: tuple[str, ...]) -> Any:
    """A loaded adapter-free pipeline over the same weights, device and dtype, whose modules `from_pipe` can reuse.

    flux-kontext and its inpainting sibling (the AnyDoor stand-in) then hold one copy of FLUX in memory.
    """
    _, source, options, device, dtype = key
    if options != "[]":
        return None
    for (_, other_source, other_options, other_device, other_dtype), pipe in _PIPELINES.items():
        if (other_source, other_options, other_device, other_dtype) == (source, options, device, dtype):
            return pipe
    return None


def clear_cache() -> None:
    """Drop every loaded pipeline (teardown, tests)."""
    _PIPELINES.clear()


def load_model(
    name: str,
    *,
    weights: dict[str, Path] | None = None,
    device: str | None = None,
    dtype: str | None = None,
) -> Editor | TextToImage:
    """The Editor (or TextToImage for kind "t2i") registered as `name`, ready to run."""
    spec = get_spec(name)
    if spec.kind == "classic":
        from hilite_cli.models.classic import ClassicEditor

        return ClassicEditor(spec)
    from hilite_cli.models.hosted import is_hosted, load_hosted

    if is_hosted(name):
        return load_hosted(spec)
    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dev, dtype)
    local = (weights or {}).get(name)
    pipe = load_pipeline(spec, weights=Path(local) if local is not None else None, device=dev, dtype=torch_dtype)
    if spec.kind == "t2i":
        from hilite_cli.models.t2i import DiffusersTextToImage

        return DiffusersTextToImage(spec, pipe, dev)
    from hilite_cli.models.diffusers_editors import make_editor

    return make_editor(spec, pipe, dev)
