"""Judge scores for score-dataset: NHR prompt A.2 through a provider, as a pluggable callable.

The stage only needs `JudgeFn`; `provider_judge` adapts a `hilite_cli.providers` Provider to it, so
tests and other backends can plug in anything that returns `JudgeOutcome`s. A non-ok answer keeps
both scores None with its status and reason: never a default number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class JudgeItem:
    source: bytes  # encoded image bytes a provider takes (image_wire.sendable: a checked PNG/JPEG as is)
    edited: bytes
    instruction: str
    sent: tuple[str, ...] = ()  # how source and edited were encoded (`original png`, …), when known


@dataclass(frozen=True)
class JudgeOutcome:
    status: str  # hilite_cli.records.JudgeStatus
    instruction: float | None = None
    aesthetics: float | None = None
    provider: str | None = None
    model: str | None = None
    raw: str | None = None
    reason: str | None = None
    cached: bool = False
    prompt: str | None = None  # the prompt's name and version, as validate records them
    prompt_version: str | None = None
    usage: dict[str, int | None] | None = None  # tokens in/out of the judge's reply
    images: list[str] | None = None  # the encoding each image went to the judge in (`original png`, …)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


JudgeFn = Callable[[Sequence[JudgeItem]], list[JudgeOutcome]]


def provider_judge(provider: Any) -> JudgeFn:
    """Ask `provider` the A.2 question for each item as validate does (`judging.scoring_ask`, temperature 0)."""
    from hilite_cli.stages.judging import judge_block, scores_from, scoring_ask

    def judge(items: Sequence[JudgeItem]) -> list[JudgeOutcome]:
        answers = provider.ask_many([scoring_ask(item.source, item.edited, item.instruction) for item in items])
        outcomes = []
        for item, answer in zip(items, answers, strict=True):
            scores = scores_from(answer)
            outcomes.append(JudgeOutcome(
                instruction=scores["instruction"], aesthetics=scores["aesthetics"],
                **judge_block(answer, "a2_evaluation", list(item.sent) or None),
            ))
        return outcomes

    return judge
