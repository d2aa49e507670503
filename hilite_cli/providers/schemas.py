"""Pydantic output schemas shared by the stages that ask models for JSON.

They are sent to the backends as native structured-output schemas and validate what comes back;
a reply that does not fit is an `unparsed` answer, never a coerced value: the models are strict, so
a boolean or a numeric string is not a number and a number is not a string.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

Intent = Literal[
    "general_editing",
    "style_change",
    "object_swap",
    "object_insertion",
    "object_modification",
    "object_removal",
]
INTENTS: tuple[str, ...] = Intent.__args__


class EditScores(BaseModel):
    """NHR A.2: the two judge scores, each on the paper's 1.0–5.0 scale."""

    model_config = ConfigDict(extra="forbid", strict=True)

    InstructionAdherence: float = Field(ge=1.0, le=5.0)
    ImageAesthetic: float = Field(ge=1.0, le=5.0)


class PromptSpecOut(BaseModel):
    """NHR A.1: one text-to-image prompt and its 1–5 deletion edits."""

    model_config = ConfigDict(extra="forbid", strict=True)

    prompt: str = Field(min_length=1)
    edits: list[str] = Field(min_length=1, max_length=5)


class DesignBatch(RootModel[list[PromptSpecOut]]):
    """NHR A.1 output: the JSON array the prompt asks for."""

    model_config = ConfigDict(strict=True)


class RouteDecision(BaseModel):
    """HILITE III-B: the intent and the user's instruction rewritten once per model prompt_style.

    `instruction_prompt` serves prompt_style "instruction", `target_prompt` serves "target", and
    `source_prompt` + `target_prompt` serve "source_target".
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    intent: Intent
    instruction_prompt: str = Field(min_length=1)
    source_prompt: str = Field(min_length=1)
    target_prompt: str = Field(min_length=1)
