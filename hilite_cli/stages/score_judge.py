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
    source: bytes  # encoded image bytes a provider takes (PNG/JPEG/GIF/WebP; others re-encoded as PNG)
    edited: bytes
    instruction: str


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


JudgeFn = Callable[[Sequence[JudgeItem]], list[JudgeOutcome]]


def provider_judge(provider: Any, *, prompt_name: str = "a2_evaluation") -> JudgeFn:
    """Ask `provider` the A.2 question for each item (original then edited image), temperature 0."""
    from hilite_cli.prompts import render_prompt
    from hilite_cli.providers import Ask
    from hilite_cli.providers.schemas import EditScores

    def judge(items: Sequence[JudgeItem]) -> list[JudgeOutcome]:
        asks = [
            Ask(
                prompt=render_prompt(prompt_name, instruction=item.instruction),
                images=[item.source, item.edited],
                expect="json",
                schema=EditScores,
                temperature=0.0,
            )
            for item in items
        ]
        outcomes = []
        for answer in provider.ask_many(asks):
            common = {
                "status": answer.status,
                "provider": answer.provider,
                "model": answer.model,
                "raw": answer.raw,
                "reason": answer.reason,
                "cached": answer.cached,
            }
            if answer.status == "ok" and answer.value is not None:
                value = answer.value
                outcomes.append(
                    JudgeOutcome(instruction=value.InstructionAdherence, aesthetics=value.ImageAesthetic, **common)
                )
            else:
                outcomes.append(JudgeOutcome(**common))
        return outcomes

    return judge
