"""Record types shared by every stage (DESIGN.md, "Records").

Records travel as plain dicts so that fields a stage does not know pass through untouched;
the pydantic models below validate the fields a stage needs before it reads them.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from hilite_cli.config import load_config
from hilite_cli.core import PATH_FIELDS, Record, RecordError, stable_id, with_error

__all__ = ["PATH_FIELDS", "Record", "RecordError", "stable_id", "validate_as", "with_error"]

JudgeStatus = Literal["ok", "refused", "blocked", "truncated", "unparsed", "http_error", "timeout", "unavailable"]


@functools.cache
def max_instruction_chars() -> int:
    """configs/thresholds.toml [instructions] max_chars."""
    return int(load_config("thresholds")["instructions"]["max_chars"])


def check_instruction_length(text: str) -> str:
    """Refuse an instruction past the limit, naming its length: it would be sent as is to a paid judge."""
    limit = max_instruction_chars()
    if len(text) > limit:
        raise ValueError(f"the instruction is {len(text)} characters long; the limit is {limit} "
                         "(configs/thresholds.toml [instructions] max_chars)")
    return text


# An instruction with no words in it asks for nothing, and one past the length limit is no edit
# instruction: every stage refuses both up front.
Instruction = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(check_instruction_length)]


class _Loose(BaseModel):
    """Validates required fields and keeps everything else (unknown fields pass through)."""

    model_config = ConfigDict(extra="allow")


class Task(_Loose):
    id: str | None = None
    image: str
    instruction: Instruction
    reference_image: str | None = None
    mask: str | None = None
    reference_mask: str | None = None


class RoutedModel(_Loose):
    name: str
    prompt: str | None = None
    source_prompt: str | None = None
    target_prompt: str | None = None
    rank: int


class Route(Task):
    intent: str
    models: list[RoutedModel]
    router: dict[str, Any]


class Params(_Loose):
    steps: int | None = None
    text_influence: float | None = None
    image_influence: float | None = None


class Candidate(_Loose):
    id: str
    parent: str | None = None
    image: str
    instruction: Instruction
    model: str
    prompt: str | None = None
    seed: int | None = None
    params: Params = Field(default_factory=Params)
    output: str
    slot: str | None = None


class Scores(_Loose):
    instruction: float | None = None
    aesthetics: float | None = None
    geometric: float | None = None


class Judge(_Loose):
    provider: str
    model: str | None = None
    status: JudgeStatus
    raw: str | None = None
    reason: str | None = None


class Scored(Candidate):
    scores: Scores
    checks: dict[str, Any] = Field(default_factory=dict)
    judge: Judge


class Triplet(_Loose):
    id: str
    source: str
    instruction: Instruction
    edited: str
    scores: Scores = Field(default_factory=Scores)
    kind: Literal["forward", "inverse", "bootstrap"]
    parents: list[str] = Field(default_factory=list)
    t2i_prompt: str | None = None


class PromptSpec(_Loose):
    id: str | None = None
    t2i_prompt: str
    edits: list[str]


class Rating(_Loose):
    item: str
    rater: str
    instruction: float | None = None
    aesthetics: float | None = None


class ErrorInfo(BaseModel):
    stage: str
    kind: str
    message: str


def validate_as(model: type[_Loose], record: Record) -> _Loose:
    """Validate `record` as `model`, turning pydantic's report into one readable RecordError."""
    try:
        return model.model_validate(record)
    except ValidationError as exc:
        problems = "; ".join(
            f"`{'.'.join(str(p) for p in err['loc'])}`: {err['msg'].lower()}" for err in exc.errors()
        )
        raise RecordError("invalid_record", f"not a valid {model.__name__.lower()} record: {problems}") from None


