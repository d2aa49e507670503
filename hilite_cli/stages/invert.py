"""`invert`: NHR semantic inversion and the backward consistency filter (section 3.6).

Each forward triplet ⟨I_0, p, I_e⟩ gets an inverse ⟨I_e, p⁻¹, I_0⟩ whose instruction an LLM writes
with prompt A.6, verbatim, given the original T2I prompt as the scene description. A record
without `t2i_prompt` uses its `caption` if it has one, else an empty description; which one was
used is recorded in `inversion.description`. With `llm="offline"` no model is asked: explicit
rules (configs/augment.toml [[invert.rules]]) invert the global tone and style edits the classic
editor makes, recorded as `inversion.provider = "offline", model = "rules"`; a forward no rule
covers goes to the errors manifest with the reason.

An inversion that uses a word A.6 forbids (configs/augment.toml [invert] banned_words) is
refused and asked once more with a reminder appended (so the cache cannot return the same
answer); the refused text is kept in `inversion.rejected`. A second refusal is an error record.

What goes out:
- with `forward=True` (default): every forward triplet passes through, followed by its inverse, so
  `validate | invert | bootstrap` sees both; triplets of other kinds pass through untouched.
- with `forward=False`: only the inverses (other kinds are left out too) (`hilite invert triplets.jsonl > inverse.jsonl`).
- `backward_check=True` (needs `forward=True`): each inverse is re-scored with A.2 by `judge` on
  (I_e as original, I_0 as edited); when it is below `t_inv_aes`/`t_inv_adh`, or cannot be scored,
  BOTH it and its forward twin are dropped (`stats["backward_removed_pairs"]`). A forward whose
  inversion failed cannot be confirmed, so in this mode it is dropped too (and reported).
Scored candidates (`validate --keep all`) are accepted: passed ones become forward triplets,
the rest are filtered and counted.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hilite_cli.config import load_config
from hilite_cli.records import Record, RecordError, with_error
from hilite_cli.stages.base import Stage
from hilite_cli.stages.judging import (
    ImageFiles,
    backend_name,
    failed_status,
    inverse_thresholds,
    judge_block,
    open_provider,
    scores_from,
    scoring_ask,
)
from hilite_cli.stages.triplets import triplet_hashes, triplet_id, triplet_of

# Forward fields that describe the forward judgement, not the inverse triplet.
_FORWARD_ONLY: frozenset[str] = frozenset(
    {"id", "source", "edited", "instruction", "kind", "parents", "sha256", "scores", "checks", "judge", "thresholds"}
)
_LABEL = re.compile(r"^\s*(?:inverse(?:\s+instruction)?|inverse edit)\s*:\s*", re.IGNORECASE)
_QUOTES = ('"', "'", "“", "”", "‘", "’")


def banned_pattern(words: list[str]) -> re.Pattern[str]:
    """Whole-word, case-insensitive match of any banned word."""
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)


def clean_instruction(text: str) -> str | None:
    """The instruction in a reply: a leading "Inverse:" label and enclosing quotes removed.

    None when the reply is empty or spans several lines (commentary, alternatives): that is not
    one instruction, and picking one of its lines would be a guess.
    """
    body = _LABEL.sub("", text.strip()).strip()
    while len(body) >= 2 and body[0] in _QUOTES and body[-1] in _QUOTES:
        body = body[1:-1].strip()
    if not body or "\n" in body:
        return None
    return body


@dataclass
class _Job:
    """One forward triplet on its way to an inverse."""

    forward: Record
    source_sha: str
    edited_sha: str
    description: str
    description_from: str
    attempts: int = 0
    rejected: list[str] = field(default_factory=list)
    inverse: Record | None = None
    failure: tuple[str, str] | None = None  # (kind, message): reported in the errors manifest
    below_threshold: bool = False  # the backward filter's verdict: dropped on purpose, counted


class InvertStage(Stage):
    name: ClassVar[str] = "invert"

    def __init__(
        self,
        llm: str | Any = "gemini",
        *,
        forward: bool = True,
        backward_check: bool = False,
        judge: str | Any = "gemini",
        t_inv_aes: float | None = None,
        t_inv_adh: float | None = None,
        batch_size: int = 16,
        provider_options: dict[str, Any] | None = None,
    ) -> None:
        if backward_check and not forward:
            raise ValueError("`backward_check` drops forward twins, so it needs forward triplets passed through "
                             "(forward=True / --forward)")
        if backward_check and backend_name(judge) == "offline":
            raise ValueError("the backward check re-scores inverses with a judge model; the offline provider "
                             "makes no judgements: pass --judge gemini|openai|local")
        if batch_size < 1:
            raise ValueError(f"`batch_size` must be at least 1, got {batch_size}")
        backend_name(llm)  # an unknown provider is a usage error now, not after the first batch
        settings = load_config("augment")["invert"]
        self.llm_spec = llm
        self.judge_spec = judge
        self.forward = forward
        self.backward_check = backward_check
        self.thresholds = inverse_thresholds(t_inv_aes, t_inv_adh)
        # a batch is what is in flight at once: never fewer than the calls allowed concurrently
        self.batch_size = max(batch_size, (provider_options or {}).get("concurrency") or 0)
        self.provider_options = provider_options
        self.banned = banned_pattern(list(settings["banned_words"]))
        self.retry_reminder = str(settings["retry_reminder"])
        self.rules = [(re.compile(r["match"], re.IGNORECASE), str(r["inverse"])) for r in settings.get("rules", [])]
        self.stats: Counter[str] = Counter()
        self._images = ImageFiles()
        self._llm: Any = None
        self._judge: Any = None
        self._owned: list[Any] = []

    # -- lifecycle -----------------------------------------------------------------------------
    def setup(self) -> None:
        self._llm, owned = open_provider(self.llm_spec, self.provider_options)
        self._owned += [self._llm] if owned else []
        if self.backward_check:
            self._judge, owned = open_provider(self.judge_spec, self.provider_options)
            self._owned += [self._judge] if owned else []

    def teardown(self) -> None:
        for provider in self._owned:
            provider.close()
        self._owned = []
        self._images.close()

    # -- per batch -----------------------------------------------------------------------------
    def __call__(self, batch: list[Record]) -> list[Record]:
        from hilite_cli.images import ImageError

        out: list[Record] = []
        jobs: list[_Job] = []
        for record in batch:
            try:
                forward = self._forward(record)
                if forward is not None and forward.get("kind") == "forward":
                    jobs.append(self._job(forward))
                elif forward is not None:
                    self.stats["other_kinds"] += 1
                    out += [forward] if self.forward else []
            except RecordError as exc:
                out.append(with_error(record, self.name, exc.kind, exc.message))
            except ImageError as exc:  # an unreadable image fails its record only
                out.append(with_error(record, self.name, exc.kind, str(exc)))
        self._invert(jobs)
        if self.backward_check:
            self._backward(jobs)
        for job in jobs:
            out.extend(self._emit(job))
        return out

    # -- steps ---------------------------------------------------------------------------------
    def _forward(self, record: Record) -> Record | None:
        """The forward triplet a record stands for; None when it is a candidate that did not pass."""
        return triplet_of(record, self._images, self.stats,
                          "invert takes triplets (validate --select best or --keep passed)")

    def _job(self, forward: Record) -> _Job:
        source_sha, edited_sha = triplet_hashes(forward, self._images)
        for name in ("t2i_prompt", "caption"):
            if isinstance(forward.get(name), str) and forward[name].strip():
                return _Job(forward, source_sha, edited_sha, forward[name], name)
        return _Job(forward, source_sha, edited_sha, "", "none")

    def _invert_by_rules(self, jobs: list[_Job]) -> None:
        """The offline inverter: the first rule whose pattern matches writes the inverse, or the job fails."""
        from hilite_cli.providers import Answer

        for job in jobs:
            job.attempts = 1
            instruction = job.forward["instruction"]
            text = next((inverse for pattern, inverse in self.rules if pattern.search(instruction)), None)
            if text is None:
                self.stats["inversion_failed"] += 1
                job.failure = ("invert_no_rule", f"forward {job.forward['id']}: the offline inverter has no rule for "
                                                 f"{instruction!r}; pass --llm PROVIDER to write it with prompt A.6")
                continue
            answer = Answer(status="ok", value=text, raw=text, provider="offline", model="rules")
            job.inverse = self._inverse(job, text, answer)
            job.inverse["inversion"].update(prompt="rules", prompt_version="configs/augment.toml [[invert.rules]]")
            self.stats["inverted"] += 1

    def _invert(self, jobs: list[_Job]) -> None:
        """Ask A.6 for every job; ask once more, with a reminder, those that used a banned word."""
        from hilite_cli.prompts import render_prompt
        from hilite_cli.providers import Ask

        if self._llm.name == "offline":
            self._invert_by_rules(jobs)
            return

        pending = jobs
        for attempt in (1, 2):
            prompts = [render_prompt("a6_inverse", description=j.description, instruction=j.forward["instruction"])
                       for j in pending]
            if attempt == 2:
                prompts = [p + self.retry_reminder for p in prompts]
                self.stats["retried"] += len(pending)
            answers = self._llm.ask_many([Ask(prompt=p, expect="text") for p in prompts])
            retry = []
            for job, answer in zip(pending, answers, strict=True):
                job.attempts = attempt
                if self._take(job, answer):
                    retry.append(job)
            pending = retry
            if not pending:
                return
        for job in pending:
            self.stats["inversion_refused"] += 1
            job.failure = ("inversion_refused", f"forward {job.forward['id']}: both inversions used a forbidden word "
                                                f"(revert/undo/restore/back): {job.rejected!r}")

    def _take(self, job: _Job, answer: Any) -> bool:
        """Record the answer on the job; True when it used a banned word and deserves the retry."""
        if answer.status != "ok":
            self.stats["inversion_failed"] += 1
            job.failure = (f"invert_{answer.status}", f"forward {job.forward['id']}: inversion answer "
                                                      f"{answer.status}: {answer.reason}")
            return False
        text = clean_instruction(answer.value)
        if text is None:
            self.stats["inversion_failed"] += 1
            job.failure = ("invert_unparsed", f"forward {job.forward['id']}: the inversion reply is not one "
                                              f"instruction: {answer.raw!r}")
            return False
        if self.banned.search(text):
            job.rejected.append(text)
            return True
        job.inverse = self._inverse(job, text, answer)
        self.stats["inverted"] += 1
        return False

    def _inverse(self, job: _Job, text: str, answer: Any) -> Record:
        from hilite_cli.prompts import prompt_version

        fwd = job.forward
        source_sha, edited_sha = job.source_sha, job.edited_sha
        carried = {k: v for k, v in fwd.items() if k not in _FORWARD_ONLY}
        return {
            **carried,
            "id": triplet_id(edited_sha, text, source_sha),
            "source": fwd["edited"],
            "instruction": text,
            "edited": fwd["source"],
            "kind": "inverse",
            "parents": [fwd["id"]],
            "sha256": {"source": edited_sha, "edited": source_sha},
            "scores": {"instruction": None, "aesthetics": None, "geometric": None},
            "forward_instruction": fwd["instruction"],
            "inversion": {
                "provider": answer.provider,
                "model": answer.model,
                "prompt": "a6_inverse",
                "prompt_version": prompt_version("a6_inverse"),
                "raw": answer.raw,
                "attempts": job.attempts,
                "rejected": job.rejected,
                "description": job.description_from,
            },
        }

    def _backward(self, jobs: list[_Job]) -> None:
        """NHR's backward consistency filter: re-score each inverse; a low or missing score fails the pair."""
        from hilite_cli.images import ImageError

        done, asks = [], []
        for job in jobs:
            if job.inverse is None:
                continue
            try:
                images = self._images.data(job.inverse["source"]), self._images.data(job.inverse["edited"])
            except ImageError as exc:  # an unreadable image fails its pair only
                job.failure = (exc.kind, str(exc))
                self.stats["backward_removed_pairs"] += 1
                continue
            done.append(job)
            asks.append(scoring_ask(*images, job.inverse["instruction"]))
        for job, answer in zip(done, self._judge.ask_many(asks), strict=True):
            inverse = job.inverse
            inverse["scores"] = scores_from(answer)
            inverse["judge"] = judge_block(answer, "a2_evaluation")
            inverse["thresholds"] = self.thresholds.to_dict()
            if status := failed_status(answer.status):
                self.stats["backward_unscorable"] += 1
                job.failure = (f"judge_{status}", f"inverse of {job.forward['id']}: backward A.2 answer {status}: "
                                                  f"{answer.reason}; forward and inverse dropped")
            else:
                job.below_threshold = not self.thresholds.passes(inverse["scores"])
            if job.failure is not None or job.below_threshold:
                self.stats["backward_removed_pairs"] += 1

    def _emit(self, job: _Job) -> list[Record]:
        if job.below_threshold:
            return []  # the paper's filter dropped the pair on purpose; counted in backward_removed_pairs
        if job.failure is None:
            return [job.forward, job.inverse] if self.forward else [job.inverse]
        failed = job.inverse if job.inverse is not None else job.forward
        error = with_error(failed, self.name, *job.failure)
        if self.backward_check:
            if job.inverse is None:
                self.stats["forward_unconfirmed"] += 1
            return [error]
        return ([job.forward] if self.forward else []) + [error]
