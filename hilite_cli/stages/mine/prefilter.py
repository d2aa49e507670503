"""The soft pre-filter (Algorithm 2, lines 14-18): A.2 scores against T_aes / T_adh, then the A.3
(unwanted modifications) and A.4 (aesthetics) yes/no checks, then the low-level check.

Every score and check that ran is recorded on the candidate, passed or not, with the first stage
that rejected it (`rejected_at`: a2, a3, a4 or lowlevel). The low-level check is local and cheap,
so it is always computed and recorded, but it only decides after the semantic steps passed, as in
the paper's order (Table 3 counts it after the pre-filter).

A provider that cannot judge at all (the offline one answers `unavailable`) does not invent
scores: the semantic steps are recorded as not run (null scores, status unavailable) and only the
low-level check decides; the stats say so loudly. Any other failed answer (HTTP error, block,
unparsable reply) is a failure of that job, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hilite_cli.metrics.lowlevel import lowlevel_check
from hilite_cli.providers import Answer, Provider
from hilite_cli.records import Record
from hilite_cli.stages import judging
from hilite_cli.stages.judging import aesthetic_ask, judge_block, scores_from, scoring_ask, unwanted_ask, yesno_check

STAGES: tuple[str, ...] = ("a2", "a3", "a4", "lowlevel")


@dataclass(frozen=True)
class Verdict:
    """The pre-filter's decision for one edit, and the fields it adds to the candidate."""

    passed: bool
    rejected_at: str | None
    failure: tuple[str, str] | None  # (kind, message) when a step could not be completed
    fields: Record


def _check(answer: Answer | None, prompt: str) -> Record | None:
    """A yes/no check as recorded: None when it did not run."""
    return None if answer is None else yesno_check(answer, prompt)


@dataclass(frozen=True)
class Edit:
    """One edit to judge: the instruction, both images as PNG bytes, and its low-level check (computed
    where the pixels are at hand, so a window of waiting edits holds no pixels)."""

    instruction: str
    source_png: bytes
    edited_png: bytes
    low: Record | None


class Prefilter:
    """Runs A.2 -> (A.3, A.4) -> low-level for one (source, instruction, edit), or a window of them."""

    def __init__(self, provider: Provider, thresholds: judging.Thresholds, *, lowlevel: bool = True) -> None:
        self.provider = provider
        self.thresholds = thresholds
        self.lowlevel = lowlevel

    def judge(self, instruction: str, source_png: bytes, edited_png: bytes, source: np.ndarray, edited: np.ndarray) -> Verdict:
        return self.judge_many([Edit(instruction, source_png, edited_png, self.lowlevel_check(source, edited))])[0]

    def lowlevel_check(self, source: np.ndarray, edited: np.ndarray) -> Record | None:
        """The low-level check as recorded; None when it is off (--no-lowlevel)."""
        return lowlevel_check(source, edited).to_dict() if self.lowlevel else None

    def judge_many(self, edits: list[Edit]) -> list[Verdict]:
        """A.2 for every edit in one `ask_many`, then A.3 + A.4 for those that passed A.2 in a second one.

        Under `--batch-api` each `ask_many` is one provider batch job; otherwise the calls overlap
        up to the provider's concurrency. The verdicts are those `judge` gives one edit at a time.
        """
        a2s = self.provider.ask_many([scoring_ask(e.source_png, e.edited_png, e.instruction) for e in edits])
        scored = [a2.status == "ok" and self.thresholds.passes(scores_from(a2)) for a2 in a2s]
        asks = [ask for e, ok in zip(edits, scored, strict=True) if ok
                for ask in (unwanted_ask(e.source_png, e.edited_png, e.instruction), aesthetic_ask(e.edited_png))]
        answers = iter(self.provider.ask_many(asks))
        checks = [(next(answers), next(answers)) if ok else None for ok in scored]
        return [self._verdict(e, a2, pair) for e, a2, pair in zip(edits, a2s, checks, strict=True)]

    def _verdict(self, edit: Edit, a2: Answer, checks: tuple[Answer, Answer] | None) -> Verdict:
        """The decision for one edit from its A.2 answer and, when A.2 passed, its A.3 and A.4 answers."""
        low = edit.low
        scores = scores_from(a2)
        a3, a4 = checks or (None, None)
        rejected_at: str | None = None
        failure: tuple[str, str] | None = None
        semantic = a2.status != "unavailable"
        if a2.status == "ok":
            if checks is None:
                rejected_at = "a2"
            else:
                rejected_at, failure = self._checks(*checks)
        elif a2.status != "unavailable":
            failure = (f"prefilter_a2_{a2.status}", a2.reason or f"A.2 answer {a2.status}")
        if rejected_at is None and failure is None and low is not None and not low["passed"]:
            rejected_at = "lowlevel"
        passed = rejected_at is None and failure is None
        fields = {
            "scores": scores,
            "judge": judge_block(a2, "a2_evaluation"),
            "checks": {"unwanted": _check(a3, "a3_unwanted"), "aesthetic": _check(a4, "a4_aesthetics"), "lowlevel": low},
            "prefilter": {
                "semantic": "run" if semantic else "not_run",
                "t_aes": self.thresholds.aesthetics,
                "t_adh": self.thresholds.instruction,
                "lowlevel": self.lowlevel,
            },
            "passed": passed,
            "rejected_at": rejected_at,
        }
        return Verdict(passed, rejected_at, failure, fields)

    @staticmethod
    def _checks(a3: Answer, a4: Answer) -> tuple[str | None, tuple[str, str] | None]:
        """(rejected_at, failure) from the A.3 and A.4 answers."""
        for name, answer in (("a3", a3), ("a4", a4)):
            if answer.status not in ("ok", "unavailable"):
                return None, (f"prefilter_{name}_{answer.status}", answer.reason or f"{name.upper()} answer {answer.status}")
        for name, answer in (("a3", a3), ("a4", a4)):
            if answer.status == "ok" and not answer.value:
                return name, None
        return None, None
