"""Text-to-image source generation (FLUX.1-schnell by default) with NHR 3.5's random resolutions."""

from __future__ import annotations

import math
from typing import Any, Protocol

from PIL import Image

from hilite_cli.models.base import ModelSpec
from hilite_cli.models.diffusers_editors import generators, oom_guard
from hilite_cli.models.registry import call_kwargs
from hilite_cli.records import RecordError


class UniformRng(Protocol):
    """Anything with `uniform(a, b)`: random.Random or numpy.random.Generator."""

    def uniform(self, a: float, b: float) -> float: ...


def random_resolution(
    rng: UniformRng,
    multiple: int,
    *,
    long_min: int = 860,
    long_max: int = 2200,
    max_aspect: float = 6.0,
) -> tuple[int, int]:
    """(w, h) with the long side uniform in [long_min, long_max] and aspect within 1:max_aspect..max_aspect:1.

    The aspect ratio is drawn log-uniformly (so 1:3 is as likely as 3:1); both sides are rounded
    to `multiple` and kept inside the bounds after rounding.
    """
    long_lo = math.ceil(long_min / multiple) * multiple
    long_hi = math.floor(long_max / multiple) * multiple
    long_side = min(long_hi, max(long_lo, round(rng.uniform(long_min, long_max) / multiple) * multiple))
    log_ar = rng.uniform(-math.log(max_aspect), math.log(max_aspect))
    short_min = math.ceil(long_side / max_aspect / multiple) * multiple
    short_side = min(long_side, max(short_min, round(long_side / math.exp(abs(log_ar)) / multiple) * multiple))
    return (long_side, short_side) if log_ar >= 0 else (short_side, long_side)


def spec_resolution(spec: ModelSpec, rng: UniformRng) -> tuple[int, int]:
    """random_resolution with the bounds from the spec's options (configs/models.toml)."""
    opts = spec.options
    return random_resolution(
        rng,
        spec.multiple,
        long_min=int(opts.get("long_side_min", 860)),
        long_max=int(opts.get("long_side_max", 2200)),
        max_aspect=float(opts.get("max_aspect", 6.0)),
    )


class DiffusersTextToImage:
    """TextToImage over a diffusers pipeline; all seeds of one prompt in ONE call."""

    def __init__(self, spec: ModelSpec, pipe: Any, device: str) -> None:
        self.spec = spec
        self.pipe = pipe
        self.device = device

    def request(self, prompt: str, *, seeds: list[int], width: int, height: int, params: dict[str, Any]) -> dict[str, Any]:
        """The pipeline __call__ arguments (without generators); sizes must be multiples of the model's."""
        if not prompt:
            raise RecordError("missing_input", f"{self.spec.name}: empty prompt")
        if not seeds:
            raise RecordError("bad_params", f"{self.spec.name}: at least one seed is needed")
        m = self.spec.multiple
        if width % m or height % m or width <= 0 or height <= 0:
            raise RecordError("bad_params", f"{self.spec.name}: width and height must be positive multiples of {m}, got {width}x{height}")
        return call_kwargs(self.spec, params) | {
            "prompt": prompt,
            "width": width,
            "height": height,
            "num_images_per_prompt": len(seeds),
        }

    def generate(self, prompt: str, *, seeds: list[int], width: int, height: int, params: dict[str, Any]) -> list[Image.Image]:
        """len(seeds) images of width x height; the same seed gives the same image alone or batched."""
        kwargs = self.request(prompt, seeds=seeds, width=width, height=height, params=params)
        with oom_guard(self.spec, len(seeds), (width, height)):
            return list(self.pipe(**kwargs, generator=generators(self.device, seeds)).images)
