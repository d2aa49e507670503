"""The contract between image models and the stages that use them (briefs: models_schema).

A `ModelSpec` is one validated `[models.<name>]` table of configs/models.toml; `Editor` and
`TextToImage` are what `load_model` returns. Stages depend on these, never on diffusers.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

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


class ModelSpec(_Strict):
    name: str
    kind: Kind
    pipeline: str
    hub_id: str
    status: Literal["implemented", "substitute"]
    substitute_for: str = ""
    note: str = ""
    needs: list[Need] = Field(default_factory=list)
    prompt_style: PromptStyle
    multiple: int = Field(default=8, ge=1)
    max_side: int = Field(default=0, ge=0)
    defaults: KnobDefaults = Field(default_factory=KnobDefaults)
    knobs: KnobMap = Field(default_factory=KnobMap)
    call: dict[str, Any] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)


class ModelLoadError(RecordError):
    """Weights missing or unloadable: the message names the hub id and both ways to provide it."""

    def __init__(self, message: str, kind: str = "model_load") -> None:
        super().__init__(kind, message)


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
