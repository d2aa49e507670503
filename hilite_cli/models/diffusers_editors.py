"""Editors over diffusers pipelines: one batched call per (image, prompt, model), one generator per seed.

`DiffusersEditor` does what every family shares (input checks, working size, knob arguments from
`call_kwargs`, generators, out-of-memory handling, resizing back); each family only says which
image/prompt arguments its pipeline takes (`_INPUTS`, keyed by the registry's `pipeline`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
from PIL import Image

from hilite_cli.models.base import ModelSpec
from hilite_cli.models.registry import call_kwargs
from hilite_cli.records import RecordError


def working_size(size: tuple[int, int], multiple: int, max_side: int) -> tuple[int, int]:
    """(w, h) scaled down to fit `max_side` (0 = no cap), each side a multiple of `multiple` (>= one multiple)."""
    w, h = size
    scale = min(1.0, max_side / max(w, h)) if max_side else 1.0
    return tuple(max(multiple, int(round(side * scale / multiple)) * multiple) for side in (w, h))  # type: ignore[return-value]


def working_source(image: Image.Image, spec: ModelSpec) -> tuple[Image.Image, tuple[int, int]]:
    """The RGB source at the spec's working size, and that size (the pipeline's height/width)."""
    size = working_size(image.size, spec.multiple, spec.max_side)
    src = image.convert("RGB")
    return (src if src.size == size else src.resize(size, Image.LANCZOS)), size


def canny_image(image: Image.Image, low: int, high: int) -> Image.Image:
    """The 3-channel Canny edge map ControlNet-canny is trained on."""
    import cv2

    edges = cv2.Canny(np.asarray(image.convert("RGB")), low, high)
    return Image.fromarray(np.repeat(edges[..., None], 3, axis=2))


def generators(device: str, seeds: list[int]) -> list[Any]:
    """One seeded generator per attempt: a seed reproduces its image whether alone or in a batch."""
    import torch

    gen_device = "cpu" if device == "mps" else device
    return [torch.Generator(gen_device).manual_seed(int(s)) for s in seeds]


@contextmanager
def oom_guard(spec: ModelSpec, n_images: int, size: tuple[int, int]) -> Iterator[None]:
    """Turn CUDA out-of-memory into a RecordError that says how to fit the call."""
    import torch

    try:
        yield
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        raise RecordError(
            "out_of_memory",
            f"{spec.name}: out of GPU memory generating {n_images} images at {size[0]}x{size[1]} in one call; "
            "use fewer seeds per call (--seeds) or a smaller image",
        ) from None


def prompt_for(spec: ModelSpec, prompt: str | None, source_prompt: str | None, target_prompt: str | None) -> dict[str, str]:
    """The text inputs the spec's prompt_style needs, or a RecordError naming the missing one."""
    if spec.prompt_style == "none":
        return {}
    if spec.prompt_style == "source_target":
        missing = [n for n, v in (("source_prompt", source_prompt), ("target_prompt", target_prompt)) if not v]
        if missing:
            raise RecordError("missing_input", f"{spec.name} edits from a source and a target description; missing {', '.join(missing)}")
        return {"source_prompt": source_prompt, "target_prompt": target_prompt}  # type: ignore[dict-item]
    text = target_prompt if spec.prompt_style == "target" and target_prompt else prompt
    if not text:
        raise RecordError("missing_input", f"{spec.name} needs a prompt ({spec.prompt_style} style); got none")
    return {"prompt": text}


def check_inputs(spec: ModelSpec, mask: np.ndarray | None, reference: Image.Image | None) -> None:
    """Mask- and reference-guided models name the field a task must carry."""
    given = {"mask": mask is not None, "reference_image": reference is not None, "reference_mask": True}
    missing = [need for need in spec.needs if not given[need]]
    if missing:
        raise RecordError("missing_input", f"model {spec.name} needs task field(s) {', '.join(missing)}; none given")
    if mask is not None and not np.asarray(mask).any():
        raise RecordError("missing_input", f"model {spec.name}: `mask` is empty (no pixel set)")


def _mask_image(mask: np.ndarray, size: tuple[int, int]) -> Image.Image:
    arr = np.asarray(mask)
    arr = (arr > (0 if arr.dtype == bool else 127)).astype(np.uint8) * 255
    return Image.fromarray(arr, mode="L").resize(size, Image.NEAREST)


# (spec, working-size source, text inputs, mask, reference, number of seeds) -> image/prompt arguments
InputBuilder = Callable[[ModelSpec, Image.Image, dict[str, str], Any, Any, int], dict[str, Any]]


def _text_and_image(spec: ModelSpec, src: Image.Image, text: dict[str, str], mask: Any, reference: Any, n: int) -> dict[str, Any]:
    return {"prompt": text["prompt"], "image": src}


def _instruct_pix2pix(spec: ModelSpec, src: Image.Image, text: dict[str, str], mask: Any, reference: Any, n: int) -> dict[str, Any]:
    # One source image per output image, as the pipeline's current API wants: a single image for
    # n outputs is duplicated under a FutureWarning ("will be removed in 1.0.0").
    return {"prompt": text["prompt"], "image": [src] * n}


def _controlnet_canny(spec: ModelSpec, src: Image.Image, text: dict[str, str], mask: Any, reference: Any, n: int) -> dict[str, Any]:
    control = canny_image(src, int(spec.options.get("canny_low", 100)), int(spec.options.get("canny_high", 200)))
    return {"prompt": text["prompt"], "image": control}


def _paint_by_example(spec: ModelSpec, src: Image.Image, text: dict[str, str], mask: Any, reference: Any, n: int) -> dict[str, Any]:
    # n copies, one image per copy: the pipeline samples each masked-image latent with the generator
    # of its batch index, so only an image batch (not num_images_per_prompt) keeps seeds reproducible.
    masked = _mask_image(mask, src.size)
    example = reference.convert("RGB")
    return {"image": [src] * n, "mask_image": [masked] * n, "example_image": [example] * n, "num_images_per_prompt": 1}


def _style_reference(spec: ModelSpec, src: Image.Image, text: dict[str, str], mask: Any, reference: Any, n: int) -> dict[str, Any]:
    return {"prompt": text["prompt"], "image": src, "ip_adapter_image": reference.convert("RGB")}


def _kontext(spec: ModelSpec, src: Image.Image, text: dict[str, str], mask: Any, reference: Any, n: int) -> dict[str, Any]:
    # Kontext rescales height/width to max_area (asking for exactly our area keeps the working size)
    # and, unless told otherwise, resizes the context image to one of its training resolutions.
    return {"prompt": text["prompt"], "image": src, "max_area": src.size[0] * src.size[1], "_auto_resize": False}


def _kontext_reference(spec: ModelSpec, src: Image.Image, text: dict[str, str], mask: Any, reference: Any, n: int) -> dict[str, Any]:
    # Kontext inpainting: repaint the masked region of the source, with the reference object as context.
    return _kontext(spec, src, text, mask, reference, n) | {
        "mask_image": _mask_image(mask, src.size), "image_reference": reference.convert("RGB"),
    }


# FLUX.2's image processor refuses a side under this many pixels.
FLUX2_MIN_SIDE = 64


def _flux2(spec: ModelSpec, src: Image.Image, text: dict[str, str], mask: Any, reference: Any, n: int) -> dict[str, Any]:
    # FLUX.2 takes a list of input images: the source, then HILITE's reference image as a second input.
    images = [src] + ([reference.convert("RGB")] if reference is not None else [])
    small = [im.size for im in images if min(im.size) < FLUX2_MIN_SIDE]
    if small:
        raise RecordError("bad_image", f"{spec.name}: FLUX.2 needs both sides of each input image to be at least "
                          f"{FLUX2_MIN_SIDE} px, got {small[0][0]}x{small[0][1]} (at the working size)")
    return {"prompt": text["prompt"], "image": images}


def _several_images(spec: ModelSpec, src: Image.Image, text: dict[str, str], mask: Any, reference: Any, n: int) -> dict[str, Any]:
    # Qwen-Image-Edit-2509/2511 take several input images: the reference is the second one.
    return {"prompt": text["prompt"], "image": [src] + ([reference.convert("RGB")] if reference is not None else [])}


_INPUTS: dict[str, InputBuilder] = {
    "Flux2KleinPipeline": _flux2,
    "Flux2Pipeline": _flux2,
    "QwenImageEditPlusPipeline": _several_images,
    "LongCatImageEditPipeline": _text_and_image,
    "StableDiffusionInstructPix2PixPipeline": _instruct_pix2pix,
    "StableDiffusionXLControlNetPipeline": _controlnet_canny,
    "PaintByExamplePipeline": _paint_by_example,
    "StableDiffusionXLImg2ImgPipeline": _style_reference,
    "FluxKontextPipeline": _kontext,
    "FluxKontextInpaintPipeline": _kontext_reference,
    "QwenImageEditPipeline": _text_and_image,
}


class DiffusersEditor:
    """An Editor over one loaded diffusers pipeline; every seed of a request runs in ONE call.

    Except where the registry says `batching = "per_seed"`: that pipeline mixes batch items, so each
    seed runs in a call of its own and a seed's image never depends on its batch.
    """

    def __init__(self, spec: ModelSpec, pipe: Any, device: str) -> None:
        self.spec = spec
        self.pipe = pipe
        self.device = device
        self._inputs = _INPUTS[spec.pipeline]
        self._takes_size = "height" in inspect.signature(pipe.__call__).parameters

    def request(
        self,
        image: Image.Image,
        *,
        prompt: str | None,
        seeds: list[int],
        params: dict[str, Any],
        source_prompt: str | None = None,
        target_prompt: str | None = None,
        mask: np.ndarray | None = None,
        reference: Image.Image | None = None,
    ) -> dict[str, Any]:
        """The complete pipeline __call__ arguments for one edit request (without generators)."""
        if not seeds:
            raise RecordError("bad_params", f"{self.spec.name}: at least one seed is needed")
        check_inputs(self.spec, mask, reference)
        text = prompt_for(self.spec, prompt, source_prompt, target_prompt)
        src, size = working_source(image, self.spec)
        kwargs = call_kwargs(self.spec, params) | {"num_images_per_prompt": len(seeds)}
        kwargs |= self._inputs(self.spec, src, text, mask, reference, len(seeds))
        if self._takes_size:
            kwargs |= {"width": size[0], "height": size[1]}
        return kwargs

    def edit(
        self,
        image: Image.Image,
        *,
        prompt: str | None,
        seeds: list[int],
        params: dict[str, Any],
        source_prompt: str | None = None,
        target_prompt: str | None = None,
        mask: np.ndarray | None = None,
        reference: Image.Image | None = None,
    ) -> list[Image.Image]:
        """len(seeds) edits of `image` from one pipeline call, each at the input's size."""
        groups = [[s] for s in seeds] if self.spec.batching == "per_seed" else [seeds]
        out: list[Image.Image] = []
        for group in groups:
            kwargs = self.request(
                image, prompt=prompt, seeds=group, params=params, source_prompt=source_prompt,
                target_prompt=target_prompt, mask=mask, reference=reference,
            )
            with oom_guard(self.spec, len(group), image.size):
                out += self._generate(kwargs, generators(self.device, group))
        return [im if im.size == image.size else im.resize(image.size, Image.LANCZOS) for im in out]

    def _generate(self, request: dict[str, Any], gens: list[Any]) -> list[Image.Image]:
        """Run the pipeline on `request()`'s arguments, one generator per seed."""
        return self.pipe(**request, generator=gens).images


class LeditsEditor(DiffusersEditor):
    """LEDITS++ (InfEdit substitute): invert the source under its description, then steer to the target.

    The registry runs it once per seed (`batching = "per_seed"`): its cross-attention edit mask is
    built over the whole batch, so batched seeds would change each other's images.
    """

    _INVERT_ARGS = ("num_inversion_steps", "skip", "source_guidance_scale")

    def __init__(self, spec: ModelSpec, pipe: Any, device: str) -> None:
        self.spec = spec
        self.pipe = pipe
        self.device = device

    def request(
        self,
        image: Image.Image,
        *,
        prompt: str | None,
        seeds: list[int],
        params: dict[str, Any],
        source_prompt: str | None = None,
        target_prompt: str | None = None,
        mask: np.ndarray | None = None,
        reference: Image.Image | None = None,
    ) -> dict[str, Any]:
        """{"invert": invert() arguments, "edit": __call__ arguments} for one request."""
        if not seeds:
            raise RecordError("bad_params", f"{self.spec.name}: at least one seed is needed")
        text = prompt_for(self.spec, prompt, source_prompt, target_prompt)
        src, size = working_source(image, self.spec)
        knobs = call_kwargs(self.spec, params)
        invert = {k: knobs.pop(k) for k in self._INVERT_ARGS if k in knobs}
        invert |= {"image": [src] * len(seeds), "source_prompt": text["source_prompt"], "height": size[1], "width": size[0]}
        return {"invert": invert, "edit": knobs | {"editing_prompt": [text["target_prompt"]]}}

    def _generate(self, request: dict[str, Any], gens: list[Any]) -> list[Image.Image]:
        self.pipe.invert(**request["invert"], generator=gens)
        return self.pipe(**request["edit"], generator=gens).images


def make_editor(spec: ModelSpec, pipe: Any, device: str) -> DiffusersEditor:
    """The editor class for the spec's pipeline family."""
    if spec.pipeline == "LEditsPPPipelineStableDiffusion":
        return LeditsEditor(spec, pipe, device)
    if spec.pipeline not in _INPUTS:
        raise RecordError("not_implemented", f"model {spec.name}: no editor adapter for pipeline {spec.pipeline}")
    return DiffusersEditor(spec, pipe, device)
