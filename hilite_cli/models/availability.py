"""Can a registered model run here? Packages, weights, device/dtype and memory, checked without loading it.

`hilite models --check` prints these; `hilite edit` without --models runs only the runnable ones
and names the others once. Nothing is downloaded and no weights are read: the HF cache is looked
up by file name, and memory is the registry's parameter count times the dtype's size.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hilite_cli.models.base import ModelSpec

# Packages every diffusers-backed model needs; `requires.packages` in the registry adds its own.
BASE_PACKAGES = ("torch", "diffusers", "transformers")
BYTES_PER_PARAM = {"float32": 4, "float16": 2, "bfloat16": 2}
GIB = 2**30


@dataclass(frozen=True)
class Availability:
    """One model's verdict, each reason a short phrase a person can act on."""

    name: str
    packages: dict[str, bool]
    weights: str
    device: str
    dtype: str
    weights_gib: float | None
    reasons: list[str] = field(default_factory=list)

    @property
    def runnable(self) -> bool:
        return not self.reasons

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "runnable": self.runnable, "reasons": self.reasons, "packages": self.packages,
                "weights": self.weights, "device": self.device, "dtype": self.dtype, "weights_gib": self.weights_gib}


def _hub_files(spec: ModelSpec) -> list[tuple[str, str]]:
    """(repo, file) pairs whose presence in the HF cache means the weights are there."""
    files = [(spec.hub_id, "model_index.json")]
    if spec.options.get("controlnet_hub_id"):
        files.append((spec.options["controlnet_hub_id"], "config.json"))
    if spec.options.get("ip_adapter_repo"):
        files.append((spec.options["ip_adapter_repo"], f"{spec.options['ip_adapter_subfolder']}/{spec.options['ip_adapter_weight']}"))
    return files


def _weights(spec: ModelSpec, local: Path | None) -> tuple[str, str | None]:
    """(where the weights are, or None) and a reason when they are not."""
    if local is not None:
        has_index = (local / "model_index.json").is_file() or (local / "unet").is_dir()
        return (f"--weights {local}", None) if has_index else (str(local), f"--weights {local} holds no diffusers pipeline")
    from huggingface_hub import try_to_load_from_cache

    missing = [repo for repo, name in _hub_files(spec) if not isinstance(try_to_load_from_cache(repo, name), str)]
    if missing:
        fetch = " and ".join(f"`hf download {repo}`" for repo in missing)
        return "missing", f"weights not in the HF cache: {fetch} or --weights {spec.name}=DIR"
    return "HF cache", None


def device_memory_gib(device: str) -> float | None:
    """Total memory of the device a model would load onto (GPU memory, or RAM for cpu)."""
    if device.startswith("cuda"):
        import torch

        index = int(device.split(":")[1]) if ":" in device else 0
        return torch.cuda.get_device_properties(index).total_memory / GIB
    if device == "cpu" and hasattr(os, "sysconf"):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    return None


def check_model(spec: ModelSpec, *, weights: Path | None, device: str, dtype: str) -> Availability:
    """Whether `spec` can run on `device` in `dtype` (a torch dtype name) with the weights given or cached."""
    needed = ([] if spec.kind == "classic" else list(BASE_PACKAGES)) + spec.requires.packages
    packages = {name: importlib.util.find_spec(name) is not None for name in dict.fromkeys(needed)}
    reasons = []
    absent = [name for name, ok in packages.items() if not ok]
    if absent:
        fix = f"pip install 'hilite_cli[{spec.requires.extra}]'" if spec.requires.extra else f"pip install {' '.join(absent)}"
        reasons.append(f"needs {', '.join(absent)} ({fix})")
    if spec.kind == "classic":
        return Availability(spec.name, packages, "none needed", "cpu", "uint8", 0.0, reasons)
    from hilite_cli.models.hosted import is_hosted

    if is_hosted(spec.name):
        return _hosted(spec, packages, reasons)
    if packages.get("diffusers"):
        import diffusers

        if spec.pipeline not in dir(diffusers):  # dir() lists lazy names without importing them
            reasons.append(f"this diffusers ({diffusers.__version__}) has no {spec.pipeline}")
    where, why = _weights(spec, weights)
    if why:
        reasons.append(why)
    size = spec.requires.params_billion * 1e9 * BYTES_PER_PARAM[dtype] / GIB if spec.requires.params_billion else None
    total = device_memory_gib(device)
    if size is not None and total is not None and size > total:
        reasons.append(f"its weights need about {size:.0f} GiB in {dtype}; {device} has {total:.0f} GiB")
    return Availability(spec.name, packages, where, device, dtype, round(size, 1) if size is not None else None, reasons)


def _hosted(spec: ModelSpec, packages: dict[str, bool], reasons: list[str]) -> Availability:
    """A hosted model runs where its package is installed and its API key is set (no weights, no GPU)."""
    from hilite_cli.models.hosted import families, key_variables
    from hilite_cli.providers.keys import find_key

    backend = families()[spec.pipeline]["backend"] if spec.pipeline in families() else "gemini"
    variables = key_variables(backend)
    if not find_key(variables):
        reasons.append(f"set {' or '.join(variables)} (a paid API)")
    return Availability(spec.name, packages, "hosted API", "api", "n/a", None, reasons)


def check_registry(specs: list[ModelSpec], *, weights: dict[str, Path], device: str, dtype: str | None) -> list[Availability]:
    """`check_model` for each spec, with the dtype the loader would pick on `device` when none is given."""
    from hilite_cli.models.loader import resolve_dtype

    name = str(resolve_dtype(device, dtype)).removeprefix("torch.")
    return [check_model(spec, weights=weights.get(spec.name), device=device, dtype=name) for spec in specs]


def unrunnable_editors(names: list[str] | None, *, weights: dict[str, Path], device: str | None,
                       dtype: str | None) -> dict[str, str]:
    """{editor: first reason} for the editors that cannot run here: the named ones, else every registered
    editor. One check for `hilite edit` (up front) and the studio (what it offers)."""
    from hilite_cli.models.loader import resolve_device
    from hilite_cli.models.registry import load_registry

    from hilite_cli.models.hosted import is_hosted

    registry = load_registry()
    # Hosted (paid) editors are never routed or offered by default: they run only when named.
    specs = ([registry[n] for n in names if n in registry] if names is not None
             else [spec for spec in registry.values() if spec.kind != "t2i" and not is_hosted(spec.name)])
    checked = check_registry(specs, weights=weights, device=resolve_device(device), dtype=dtype)
    return {c.name: c.reasons[0] for c in checked if not c.runnable}
