"""The contract between image models and the stages that use them (briefs: models_schema).

A `ModelSpec` is one validated `[models.<name>]` table of configs/models.toml; `Editor` and
`TextToImage` are what `load_model` returns. Stages depend on these, never on diffusers.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hilite_cli.records import RecordError

Kind = Literal["instruction", "mask", "reference", "style", "t2i", "classic"]
PromptStyle = Literal["instruction", "target", "source_target", "none"]
Need = Literal["mask", "reference_image", "reference_mask"]
KNOBS: tuple[str, ...] = ("steps", "text_influence", "image_influence")


class _Strict(BaseModel):
    """Registry tables reject unknown keys, so a typo in models.toml fails loudly at load time."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class KnobDefaults(_Strict):
    steps: int | None = None
    text_influence: float | None = None
    image_influence: float | None = None


class KnobMap(_Strict):
    """The pipeline __call__ argument each HILITE knob maps to; "" means the knob does not apply."""

    steps: str = ""
    text_influence: str = ""
    image_influence: str = ""


class LevelRange(_Strict):
    """Where levels 0 and 10 of the shared scale land on this model's native argument (linear between).

    `level_0` may be above `level_10` (img2img strength falls as image influence rises). `source` says
    where the range comes from: the model card, the pipeline's documented default, the paper.
    """

    level_0: float
    level_10: float
    source: str = Field(min_length=1)

    @property
    def bounds(self) -> tuple[float, float]:
        return min(self.level_0, self.level_10), max(self.level_0, self.level_10)


class StepRange(_Strict):
    """The step counts a model is documented to work with (enforced), and where that is written."""

    min: int = Field(ge=1)
    max: int = Field(ge=1)
    source: str = Field(min_length=1)


class KnobScale(_Strict):
    steps: StepRange | None = None
    text_influence: LevelRange | None = None
    image_influence: LevelRange | None = None


class Requirements(_Strict):
    """What `hilite models --check` looks for before a model is called runnable here."""

    packages: list[str] = Field(default_factory=list)
    extra: str = ""
    params_billion: float = Field(default=0.0, ge=0.0)
    params_source: str = ""


class ModelSpec(_Strict):
    name: str
    kind: Kind
    pipeline: str
    hub_id: str
    status: Literal["implemented", "substitute"]
    substitute_for: str = ""
    note: str = ""
    needs: list[Need] = Field(default_factory=list)
    needs_note: str = ""  # why the model cannot do without them (route records and `hilite models` say it)
    prompt_style: PromptStyle
    multiple: int = Field(default=8, ge=1)
    max_side: int = Field(default=0, ge=0)
    defaults: KnobDefaults = Field(default_factory=KnobDefaults)
    knobs: KnobMap = Field(default_factory=KnobMap)
    scale: KnobScale = Field(default_factory=KnobScale)
    call: dict[str, Any] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    # "per_seed": the pipeline mixes batch items, so each seed runs alone (`batching_note` says why).
    batching: Literal["batched", "per_seed"] = "batched"
    batching_note: str = ""
    # Every seed gives the same image: one candidate stands for all attempts.
    deterministic: bool = False
    requires: Requirements = Field(default_factory=Requirements)
    # Licence as data: what the weights (or the hosted service's terms) allow; every candidate carries it.
    licence: str = ""
    commercial_use: bool | None = None  # None: the licence does not say plainly
    licence_source: str = ""
    # How attempts map to seeds where it is not "one generator per seed" (hosted APIs): `hilite models` shows it.
    seeds_note: str = ""

    def licence_record(self) -> dict[str, Any]:
        """The `licence` field of every record this model makes (exports copy it into their metadata)."""
        return {"name": self.licence or None, "commercial_use": self.commercial_use, "source": self.licence_source or None}

    @model_validator(mode="after")
    def _influence_knobs_have_a_scale(self) -> "ModelSpec":
        """A knob that reaches the pipeline needs a level range, or its number would mean something else per model."""
        for knob in ("text_influence", "image_influence"):
            if getattr(self.knobs, knob) and getattr(self.scale, knob) is None:
                raise ValueError(f"model {self.name}: knob {knob} maps to {getattr(self.knobs, knob)!r} but has no [scale] range")
        steps = self.scale.steps
        if steps is not None and steps.min > steps.max:
            raise ValueError(f"model {self.name}: [scale].steps min {steps.min} > max {steps.max}")
        return self


class ModelLoadError(RecordError):
    """Weights missing or unloadable: the message names the hub id and both ways to provide it."""

    def __init__(self, message: str, kind: str = "model_load") -> None:
        super().__init__(kind, message)


class AttemptsFailed(RecordError):
    """Some attempts of one edit call failed (a hosted API refused or blocked them): `images` holds the
    ones that worked (None where an attempt failed) and `failures` {seed: (kind, message)} the others,
    so a stage can keep the paid-for candidates and record a typed error for each failed attempt."""

    def __init__(self, images: list[Any], failures: dict[int, tuple[str, str]]) -> None:
        kinds = {kind for kind, _ in failures.values()}
        super().__init__(kinds.pop() if len(kinds) == 1 else "attempts_failed",
                         "; ".join(message for _, message in failures.values()))
        self.images = images
        self.failures = failures


@runtime_checkable
class Editor(Protocol):
    spec: ModelSpec

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
        """ONE batched call producing len(seeds) images, one torch.Generator per seed; same seed -> same image."""
        ...


@runtime_checkable
class TextToImage(Protocol):
    spec: ModelSpec

    def generate(
        self, prompt: str, *, seeds: list[int], width: int, height: int, params: dict[str, Any]
    ) -> list[Image.Image]:
        """ONE batched call producing len(seeds) images of width x height, one generator per seed."""
        ...
