"""Hosted image models (`gemini-image:MODEL`, `openai-image:MODEL`; `gemini-t2i:MODEL`, `openai-t2i:MODEL`)
behind the same Editor / TextToImage interface as the diffusers models, so `edit`, `mine` and the
studio use them without knowing they are APIs.

M attempts are M requests (attempt numbers 1..M, each with its seed where the API takes one), sent
at once up to `--concurrency` through the providers layer (adaptive limiter, `--timeout`,
`--max-retries`, key scrubbing). A refused or blocked attempt is a typed per-attempt failure
(`AttemptsFailed`) with the provider's reason; the attempts that worked still become candidates.
Every image comes back with its record fields in `Image.info["hilite"]`: attempt, provenance and
cost. The registry entries come from configs/models.toml [hosted]; prices from providers.toml [prices].
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from hilite_cli.config import load_config
from hilite_cli.images import encode_image
from hilite_cli.models.base import AttemptsFailed, ModelLoadError, ModelSpec
from hilite_cli.records import RecordError

# Where a model's record fields travel with its image (PIL keeps `info` through pickling).
INFO_KEY = "hilite"


@dataclass(frozen=True)
class HostedOptions:
    """Provider settings the command line gives (None: configs/providers.toml [defaults])."""

    concurrency: int | None = None
    timeout: float | None = None
    max_retries: int | None = None


_options = HostedOptions()
_made: list[Any] = []  # the providers made in this process: their meters give cost lines and budgets
_lock = threading.Lock()


def configure(*, concurrency: int | None = None, timeout: float | None = None, max_retries: int | None = None) -> None:
    """The command's --concurrency/--timeout/--max-retries for hosted models loaded after this call."""
    global _options
    _options = HostedOptions(concurrency, timeout, max_retries)


def families() -> dict[str, dict[str, Any]]:
    """configs/models.toml [hosted]: editor prefix -> its table."""
    return dict(load_config("models").get("hosted", {}))


def _family(name: str) -> tuple[str, dict[str, Any], bool, str] | None:
    """(editor prefix, table, is_t2i, model) for a hosted name, else None."""
    prefix, sep, model = name.partition(":")
    if not sep:
        return None
    for editor_prefix, table in families().items():
        if prefix in (editor_prefix, table.get("t2i")):
            return editor_prefix, table, prefix != editor_prefix, model
    return None


def is_hosted(name: str) -> bool:
    return _family(name) is not None


def as_t2i(name: str) -> str:
    """`gemini-image:M` -> `gemini-t2i:M` (mine --t2i accepts either); other names unchanged."""
    found = _family(name)
    if found is None or found[2]:
        return name
    return f"{found[1]['t2i']}:{found[3]}"


def hosted_spec(name: str) -> ModelSpec | None:
    """The registry entry for a hosted name (any MODEL under a known prefix), or None."""
    found = _family(name)
    if found is None:
        return None
    prefix, table, t2i, model = found
    if not model:
        raise RecordError("unknown_model", f"{name!r}: name the model, e.g. {prefix}:{table['models'][0]}")
    package = "google.genai" if table["backend"] == "gemini" else "openai"
    return ModelSpec(
        name=name,
        kind="t2i" if t2i else "instruction",
        pipeline=prefix,
        hub_id="",
        status="implemented",
        note=("text-to-image source: " if t2i else "") + table["note"] + f" [{table['backend']} API, model {model}]",
        needs=[],
        prompt_style="target" if t2i else "instruction",
        multiple=int(table["t2i_multiple"]) if t2i else 1,
        max_side=int(table["max_side"]),
        options={"long_side_min": int(table["t2i_long_side_min"]), "long_side_max": int(table["t2i_long_side_max"]),
                 "max_aspect": float(table["t2i_max_aspect"])} if t2i else {},
        licence=table["licence"],
        commercial_use=table.get("commercial_use"),
        licence_source=table.get("licence_source", ""),
        seeds_note=table["seeds_note"],
        requires={"packages": [package]},
    )


def hosted_specs() -> list[ModelSpec]:
    """The listed hosted models, editors then sources, for `hilite models` and the registry."""
    specs = []
    for prefix, table in families().items():
        for model in table["models"]:
            specs.append(hosted_spec(f"{prefix}:{model}"))
            specs.append(hosted_spec(f"{table['t2i']}:{model}"))
    return [s for s in specs if s is not None]


def key_variables(backend: str) -> tuple[str, ...]:
    if backend == "gemini":
        from hilite_cli.providers.gemini import KEY_VARIABLES
    else:
        from hilite_cli.providers.openai_chat import KEY_VARIABLES
    return KEY_VARIABLES


def meters() -> list[Any]:
    """Usage meters of the hosted models made in this process (for the cost line)."""
    with _lock:
        return [p.usage for p in _made]


def spent_usd() -> float:
    """What the hosted models cost so far in this process (priced tokens only), for --budget-usd."""
    from hilite_cli.providers.pricing import known_usd

    return sum(known_usd(m) for m in meters())


def price_missing(name: str) -> str | None:
    """Why a hosted model's spend cannot be told (no [prices] entry), else None."""
    from hilite_cli.providers.pricing import price_for

    found = _family(name)
    if found is None:
        return None
    backend = found[0]
    if price_for(backend, found[3]) is None:
        return f"no price for {backend}:{found[3]} in configs/providers.toml [prices]"
    return None


def load_hosted(spec: ModelSpec) -> HostedImageModel:
    """The provider for `spec`, its model checked once with the API (an unknown one is a ModelLoadError)."""
    from hilite_cli.providers import provider_settings
    from hilite_cli.providers.errors import ProviderConfigError
    from hilite_cli.providers.image_backends import get_image_provider

    prefix, table, _, model = _family(spec.name)  # type: ignore[misc]
    settings = provider_settings(_options.concurrency, _options.timeout, _options.max_retries)
    try:
        provider = get_image_provider(table["backend"], model, settings, options=table)
        provider.check_reachable()
        provider.check_model()
    except ProviderConfigError as exc:
        raise ModelLoadError(f"model {spec.name!r}: {exc}", "unknown_model" if "does not know" in str(exc)
                             else "provider_config") from None
    with _lock:
        _made.append(provider)
    return HostedImageModel(spec, provider, table)


def _fit(image: Image.Image, max_side: int) -> Image.Image:
    """The image as the API takes it: RGB, long side at most `max_side`."""
    src = image.convert("RGB")
    if max(src.size) <= max_side:
        return src
    scale = max_side / max(src.size)
    return src.resize((max(1, round(src.width * scale)), max(1, round(src.height * scale))), Image.LANCZOS)


def openai_mask(mask: np.ndarray, size: tuple[int, int]) -> bytes:
    """HILITE's mask (True = edit here) as the Images API wants it: an RGBA PNG, transparent where to edit."""
    alpha = np.where(np.asarray(mask, dtype=bool), 0, 255).astype(np.uint8)
    rgba = np.zeros((*alpha.shape, 4), dtype=np.uint8)
    rgba[..., 3] = alpha
    img = Image.fromarray(rgba, mode="RGBA")
    return encode_image(img if img.size == size else img.resize(size, Image.NEAREST))


class HostedImageModel:
    """An Editor (and, under a `-t2i` prefix, a TextToImage) over one hosted image model."""

    # The stage refuses a mask whose size differs from the image instead of resizing it: it becomes the API's mask.
    exact_mask = True

    def __init__(self, spec: ModelSpec, provider: Any, table: dict[str, Any]) -> None:
        self.spec = spec
        self.provider = provider
        self.table = table
        self.seed_note = None

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
        """One request per seed, sent together; images at the input's size, record fields in `info`."""
        from hilite_cli.providers.image import ImageAsk

        name = self.spec.name
        if not seeds:
            raise RecordError("bad_params", f"{name}: at least one seed is needed")
        if not prompt:
            raise RecordError("missing_input", f"{name} needs an instruction; got none")
        if mask is not None:
            if not self.table.get("mask"):
                raise RecordError("unsupported_input", f"{name}: the {self.table['backend']} API takes no mask, so a "
                                  "masked task would be edited everywhere; use an editor that takes a mask")
            if tuple(np.asarray(mask).shape[:2]) != (image.height, image.width):
                h, w = np.asarray(mask).shape[:2]
                raise RecordError("bad_mask", f"{name}: the mask is {w}x{h} but the image is {image.width}x{image.height}; "
                                  "the API's mask must match the image")
            if not np.asarray(mask).any():
                raise RecordError("missing_input", f"{name}: `mask` is empty (no pixel set)")
        sent = _fit(image, self.spec.max_side)
        notes: dict[str, Any] = {}
        if sent.size != image.size:
            notes["input_resized_from"] = list(image.size)
            print(f"{name}: the input is {image.width}x{image.height}, longer than the API takes "
                  f"({self.spec.max_side} px): sent resized to {sent.width}x{sent.height}", file=sys.stderr)
        images = [encode_image(sent)]
        if reference is not None:
            images.append(encode_image(_fit(reference, self.spec.max_side)))
        mask_png = openai_mask(mask, sent.size) if mask is not None else None
        asks = [ImageAsk(prompt=prompt, images=images, mask=mask_png, seed=seed, attempt=i + 1,
                         cache_salt=f"attempt:{i + 1}:seed:{seed}") for i, seed in enumerate(seeds)]
        return self._collect(asks, image.size, notes | {"sent_size": list(sent.size)})

    def generate(self, prompt: str, *, seeds: list[int], width: int, height: int, params: dict[str, Any]) -> list[Image.Image]:
        """One request per seed at the supported aspect nearest width x height; resized to exactly that size."""
        from hilite_cli.providers.image import ImageAsk

        if not prompt:
            raise RecordError("missing_input", f"{self.spec.name}: empty prompt")
        if not seeds:
            raise RecordError("bad_params", f"{self.spec.name}: at least one seed is needed")
        asks = [ImageAsk(prompt=prompt, seed=seed, attempt=i + 1, size=(width, height),
                         cache_salt=f"attempt:{i + 1}:seed:{seed}") for i, seed in enumerate(seeds)]
        return self._collect(asks, (width, height), {})

    def _collect(self, asks: list[Any], size: tuple[int, int], notes: dict[str, Any]) -> list[Image.Image]:
        """Send the attempts; images for those that worked, an AttemptsFailed naming the others."""
        from hilite_cli.images import ImageError, decode_image

        answers = self.provider.ask_many(asks)
        images: list[Image.Image | None] = []
        failures: dict[int, tuple[str, str]] = {}
        for ask, answer in zip(asks, answers, strict=True):
            if answer.status != "ok":
                images.append(None)
                failures[ask.seed] = (answer.status, f"{self.spec.name}: attempt {ask.attempt} (seed {ask.seed}) "
                                                     f"{answer.status}: {answer.reason}")
                continue
            reply = answer.value
            try:
                img = decode_image(reply.data, f"{self.spec.name} attempt {ask.attempt}").convert("RGB")
            except (ImageError, OSError) as exc:  # an undecodable reply is this attempt's failure
                images.append(None)
                failures[ask.seed] = ("unparsed", f"{self.spec.name}: attempt {ask.attempt}: the returned image "
                                                  f"cannot be decoded ({exc})")
                continue
            provenance = {**reply.provenance, **notes, "returned_size": list(img.size),
                          "watermark": self.table.get("watermark")}
            if img.size != size:
                img = img.resize(size, Image.LANCZOS)
            img.info[INFO_KEY] = {"attempt": ask.attempt, "provenance": provenance, **self._cost(answer)}
            images.append(img)
        if failures:
            raise AttemptsFailed(images, failures)
        return images  # type: ignore[return-value]

    def _cost(self, answer: Any) -> dict[str, Any]:
        """This attempt's cost from its token counts and [prices]; None with the reason when it cannot be told."""
        from hilite_cli.providers.pricing import PER, price_for

        price = price_for(self.provider.name, self.provider.model)
        if price is None:
            return {"cost_usd": None,
                    "cost_reason": f"no price for {self.provider.name}:{self.provider.model} in configs/providers.toml [prices]"}
        usage = answer.usage
        if usage is None or usage.input_tokens is None or usage.output_tokens is None:
            return {"cost_usd": None, "cost_reason": "the reply reported no token counts"}
        usd = (usage.input_tokens * price.input_per_1m + usage.output_tokens * price.output_per_1m) / PER
        return {"cost_usd": round(usd, 6), "cost_reason": None,
                "tokens": {"input": usage.input_tokens, "output": usage.output_tokens}}


def record_fields(image: Image.Image) -> dict[str, Any]:
    """The record fields a model attached to its image (hosted: attempt, provenance, cost), else {}."""
    return dict(image.info.get(INFO_KEY) or {})
