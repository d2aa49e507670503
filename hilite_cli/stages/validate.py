"""`validate`: NHR's hard filter and best-of selection (Algorithm 3, lines 5–11; sections 3.2–3.3).

Each candidate is scored with prompt A.2 by the judge at temperature 0: scores = {instruction,
aesthetics, geometric = sqrt(aes * adh)}. It passes when both scores reach their thresholds and
every requested check (`lowlevel`, `unwanted` = A.3, `aesthetic` = A.4) passes. As in NHR's
pre-filter (Algorithm 2, lines 14–17), the semantic checks are asked only of candidates whose
scores already pass; the pixel-level check runs on every candidate.

What goes out, by mode:
- `select="best"`: one forward TRIPLET per (source image, instruction) group: the passing
  candidate with the highest geometric mean (ties: the smaller candidate id). Groups where
  nothing passes produce nothing and are counted. Needs the whole stream: emitted in `finish()`,
  with `difficulty.attempts_to_validated_pass` from the group's verdicts (the other modes get it
  from a pass over the output file once the run ends: `mine.difficulty.fill_validated_difficulty`).
- `keep="passed"`: a forward TRIPLET for every passing candidate, as it is scored.
- `keep="all"` (default): every candidate as a SCORED record (`scores, checks, judge, thresholds,
  passed`), for KTO/DPO exports and calibration. `invert` and `bootstrap` accept these too and
  take only the passed ones.

A judge answer that failed (refused, blocked, truncated, unparsed, http_error, timeout) never
passes: the candidate goes to the errors manifest as `judge_<status>`, still carrying its null
scores and the judge's raw text and reason, in every mode. The `offline` judge is not a failure:
it asks nothing, so semantic scores are null with status `unavailable`. The semantic thresholds
then cannot apply: a candidate passes on the pixel-level check alone and says so in `passed_on`
(`checks` must be `lowlevel` for it, its default), and `select best`, having no scores to rank,
keeps the passing candidate with the smallest id and says so in `selection`. These are pixel-level
verdicts, not quality judgements: a dataset validated offline is a plumbing check, not a dataset.

A candidate that arrives already judged (mine's soft pre-filter sets scores/checks/judge/passed)
keeps that judgement under `prior`; the fields themselves are validate's own from then on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any, ClassVar, Literal

import numpy as np

from hilite_cli.images import ImageError
from hilite_cli.records import Candidate, Record, RecordError, validate_as, with_error
from hilite_cli.stages.base import Stage
from hilite_cli.stages.mine.difficulty import first_validated
from hilite_cli.stages.judging import (
    ImageFiles,
    Job,
    JudgeCalls,
    aesthetic_ask,
    backend_name,
    failed_status,
    forward_thresholds,
    judge_batch_size,
    judge_block,
    open_provider,
    scores_from,
    scoring_ask,
    unwanted_ask,
    yesno_check,
)
from hilite_cli.stages.triplets import forward_triplet

CHECKS: tuple[str, ...] = ("lowlevel", "unwanted", "aesthetic")
SEMANTIC_CHECKS: dict[str, str] = {"unwanted": "a3_unwanted", "aesthetic": "a4_aesthetics"}
# What a judgement writes on a candidate; an input that already has them keeps them under `prior`.
_VERDICT_FIELDS: tuple[str, ...] = ("scores", "checks", "judge", "thresholds", "passed")
_OFFLINE_CHECKS = "the offline judge runs only the pixel-level check: use --checks lowlevel"
Select = Literal["none", "best"]
Keep = Literal["all", "passed"]


def parse_checks(checks: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
    """`"lowlevel,unwanted"` or a list -> a validated tuple; None stays None (the judge's default)."""
    if checks is None:
        return None
    names = [c.strip() for c in (checks.split(",") if isinstance(checks, str) else checks) if c.strip()]
    unknown = sorted(set(names) - set(CHECKS))
    if unknown:
        raise ValueError(f"`checks` must be a subset of {', '.join(CHECKS)}, got {', '.join(unknown)}")
    return tuple(dict.fromkeys(names))


class ValidateStage(Stage):
    name: ClassVar[str] = "validate"

    def __init__(
        self,
        judge: str | Any = "gemini",
        *,
        threshold: float | None = None,
        t_aes: float | None = None,
        t_adh: float | None = None,
        checks: str | list[str] | tuple[str, ...] | None = None,
        select: Select = "none",
        keep: Keep = "all",
        batch_size: int = 16,
        provider_options: dict[str, Any] | None = None,
        on_scored: Callable[[Record], None] | None = None,
    ) -> None:
        """`on_scored` sees every judged candidate (passed or not, failures included), whatever the mode:
        KTO/DPO exports need all of them even when only the best goes out."""
        if select not in ("none", "best"):
            raise ValueError(f"`select` must be none or best, got {select!r}")
        if keep not in ("all", "passed"):
            raise ValueError(f"`keep` must be all or passed, got {keep!r}")
        if batch_size < 1:
            raise ValueError(f"`batch_size` must be at least 1, got {batch_size}")
        backend = backend_name(judge)  # an unknown provider is a usage error now, not after the first batch
        self.judge_spec = judge
        self.thresholds = forward_thresholds(threshold, t_aes, t_adh)
        self.checks = parse_checks(checks)
        if backend == "offline" and self.checks is not None and self.checks != ("lowlevel",):
            raise ValueError(_OFFLINE_CHECKS)
        self.select = select
        self.keep = keep
        # a batch is what the calls overlap over: several rounds of --concurrency, so the pause between
        # batches (the last calls of one finishing before the next starts) costs little
        self.batch_size = judge_batch_size(batch_size, (provider_options or {}).get("concurrency"))
        self.provider_options = provider_options
        self.on_scored = on_scored
        self.stats: Counter[str] = Counter()
        self._provider: Any = None
        self._owned = False
        self._images = ImageFiles()
        self._calls: JudgeCalls | None = None  # set up with the provider
        # A.2 answers under way for the next batch (`prefetch`): id(record) -> (that record, its future)
        self._pending: dict[int, tuple[Record, Future[Any]]] = {}
        # select=best: group key -> best passing triplet so far; groups in first-seen order.
        self._groups: dict[tuple[str, str], Record | None] = {}
        # select=best: group key -> (seeds that passed, seeds judged at all, seeds whose judge failed),
        # for the difficulty block.
        self._seeds: dict[tuple[str, str], tuple[set[int], set[int], set[int]]] = {}
        self._pixel_only = False
        self.saw_difficulty = False  # a candidate carried mine's difficulty block (the CLI's note for stdout)

    # -- lifecycle -----------------------------------------------------------------------------
    def setup(self) -> None:
        self._provider, self._owned = open_provider(self.judge_spec, self.provider_options)
        self._pixel_only = self._provider.name == "offline"
        if self.checks is None:
            self.checks = ("lowlevel",) if self._pixel_only else ()
        if self._pixel_only and tuple(self.checks) != ("lowlevel",):
            raise ValueError(_OFFLINE_CHECKS)
        self._calls = JudgeCalls(self._provider, self._images)

    def teardown(self) -> None:
        if self._calls is not None:
            self._calls.close()
            self._calls = None
        self._pending.clear()
        if self._owned and self._provider is not None:
            self._provider.close()
        self._provider = None
        self._images.close()

    # -- per batch -----------------------------------------------------------------------------
    def prefetch(self, batch: list[Record]) -> None:
        """Start the next batch's A.2 calls (the local executor hands it in before running this one), so
        the calls run on across the batch boundary; `__call__` then collects them."""
        if self._calls is None:
            return
        ready = [r for r in batch if id(r) not in self._pending and _is_candidate(r)]
        for record, future in zip(ready, self._calls.submit([self._a2_job(r) for r in ready]), strict=True):
            self._pending[id(record)] = (record, future)

    def __call__(self, batch: list[Record]) -> list[Record]:
        assert self._calls is not None, "setup() first"
        out: list[Record] = []
        ready: list[Record] = []
        for record in batch:
            try:
                validate_as(Candidate, record)
                ready.append(record)
            except RecordError as exc:
                out.append(with_error(record, self.name, exc.kind, exc.message))
        if not ready:
            return out

        # 1. the hard filter's scores (A.2): images read on a pool ahead of the calls, all in flight together
        #    (the offline judge reads none: it sends nothing); started by `prefetch` where it could
        prefetched = {id(r): self._pending.pop(id(r))[1] for r in ready if self._pending.get(id(r), (None,))[0] is r}
        fresh = [r for r in ready if id(r) not in prefetched]
        started = dict(zip(map(id, fresh), self._calls.submit([self._a2_job(r) for r in fresh]), strict=True))
        futures = [prefetched.get(id(r)) or started[id(r)] for r in ready]
        scored: list[Record] = []
        for record, judged in zip(ready, (f.result() for f in futures), strict=True):
            if judged.error is not None:  # an unreadable image fails its record only
                out.append(with_error(record, self.name, getattr(judged.error, "kind", "bad_image"), str(judged.error)))
                continue
            scored.append(self._scored(record, judged.answers[0], judged.sent))
        # 2. pixel-level check on every candidate, on the same pool (each image decoded once)
        if "lowlevel" in self.checks:
            checked = []
            for record, check in zip(scored, self._images.map(self._lowlevel, scored), strict=True):
                if isinstance(check, ImageError):
                    out.append(with_error(record, self.name, check.kind, str(check)))
                    continue
                record["checks"]["lowlevel"] = check
                checked.append(record)
            scored = checked
        self.stats["candidates"] += len(scored)
        # 3. semantic checks, asked only of candidates whose scores pass
        self._semantic_checks(scored)
        # 4. verdicts and output per mode
        for record in scored:
            out.extend(self._emit(record))
        return out

    def finish(self) -> list[Record]:
        if self.select != "best":
            return []
        chosen = [self._with_validated(key, best) for key, best in self._groups.items() if best is not None]
        self.stats["groups"] = len(self._groups)
        self.stats["groups_without_pass"] = len(self._groups) - len(chosen)
        self.stats["selected"] = len(chosen)
        return chosen

    # -- steps ---------------------------------------------------------------------------------
    def _a2_job(self, record: Record) -> Job:
        return Job(self._paths(record), partial(_scoring, record["instruction"]))

    def _paths(self, record: Record) -> tuple[str, ...]:
        """The images the judge reads for a candidate: none for the offline judge."""
        return () if self._pixel_only else (record["image"], record["output"])

    def _scored(self, record: Record, answer: Any, sent: list[str]) -> Record:
        """The candidate with this judgement; an earlier one (mine's pre-filter, a previous validate) moves to `prior`."""
        prior = {k: record[k] for k in _VERDICT_FIELDS if k in record}
        return {
            **{k: v for k, v in record.items() if k not in _VERDICT_FIELDS},
            **({"prior": prior} if prior else {}),
            "scores": scores_from(answer),
            "checks": {},
            "judge": judge_block(answer, "a2_evaluation", sent),
            "thresholds": self.thresholds.to_dict(),
        }

    def _lowlevel(self, record: Record) -> Record | ImageError:
        """NHR's pixel-level check; an image that cannot be decoded is returned (its record fails), not raised."""
        from hilite_cli.images import load_image
        from hilite_cli.metrics.lowlevel import lowlevel_check

        try:
            source = np.asarray(load_image(record["image"]))
            edited = np.asarray(load_image(record["output"]))
        except ImageError as exc:
            return exc
        if source.shape != edited.shape:
            return {"passed": False, "reason": "size_mismatch",
                    "message": f"source {source.shape[1]}x{source.shape[0]} vs edited {edited.shape[1]}x{edited.shape[0]}"}
        return lowlevel_check(source, edited).to_dict()

    def _semantic_checks(self, scored: list[Record]) -> None:
        wanted = [c for c in self.checks if c in SEMANTIC_CHECKS]
        if not wanted:
            return
        jobs, targets = [], []
        for record in scored:
            for check in wanted:
                if not self.thresholds.passes(record["scores"]):
                    record["checks"][check] = {"passed": None, "status": "skipped",
                                               "reason": "not asked: scores below thresholds or missing"}
                    continue
                paths = self._paths(record)
                if check == "unwanted":
                    jobs.append(Job(paths, partial(_unwanted, record["instruction"])))
                else:  # A.4 looks at the edited image only
                    jobs.append(Job(paths[1:], _aesthetic))
                targets.append((record, check))
        assert self._calls is not None
        for (record, check), judged in zip(targets, [f.result() for f in self._calls.submit(jobs)], strict=True):
            if judged.error is not None:  # read for A.2 moments ago, unreadable now: this check's failure
                record["checks"][check] = {"passed": None, "status": "bad_image", "reason": str(judged.error)}
                continue
            record["checks"][check] = yesno_check(judged.answers[0], SEMANTIC_CHECKS[check], judged.sent)

    def _failure(self, record: Record) -> tuple[str, str] | None:
        """(kind, message) when a model answer failed: that is an error, never a low score."""
        questions = [("A.2 judge", record["judge"])]
        questions += [(f"{name} check", record["checks"][name]) for name in SEMANTIC_CHECKS if name in record["checks"]]
        for what, block in questions:
            if status := failed_status(block["status"]):
                return f"judge_{status}", f"candidate {record['id']}: {what} answer {status}: {block['reason']}"
        return None

    def _emit(self, record: Record) -> list[Record]:
        failure = self._failure(record)
        semantic = self._pixel_only or self.thresholds.passes(record["scores"])
        passed = failure is None and semantic and all(record["checks"][c].get("passed") is True for c in self.checks)
        record["passed"] = passed
        if self._pixel_only:
            record["passed_on"] = "pixel-level check only: the offline judge gives no semantic scores"
        if self.on_scored is not None:
            self.on_scored(record)
        self.saw_difficulty = self.saw_difficulty or isinstance(record.get("difficulty"), dict)
        if self.select == "best":
            self._groups.setdefault(self._group_key(record), None)
            self._note_seed(record, passed, failure is not None)
        if failure is not None:
            self.stats["judge_failures"] += 1
            return [with_error(record, self.name, *failure)]
        self.stats["passed" if passed else "not_passed"] += 1
        if self.select == "best":
            if passed:
                self._offer(record)
            return []
        if self.keep == "passed":
            return [self._triplet(record)] if passed else []
        return [record]

    @property
    def whole_stream(self) -> bool:  # type: ignore[override]
        return self.select == "best"

    def group_key(self, record: Record) -> str:
        """(source image content, instruction); a record whose image cannot be read is a group of its own."""
        try:
            return "\x00".join(self._group_key(record))
        except (ImageError, KeyError, TypeError, OSError):
            return f"id:{record.get('id')}"

    def _group_key(self, record: Record) -> tuple[str, str]:
        return self._images.sha(record["image"]), record["instruction"]

    def _triplet(self, record: Record) -> Record:
        return forward_triplet(record, self._images.sha(record["image"]), self._images.sha(record["output"]))

    def _note_seed(self, record: Record, passed: bool, failed: bool) -> None:
        passes, judged, unknown = self._seeds.setdefault(self._group_key(record), (set(), set(), set()))
        if isinstance(record.get("seed"), int):
            (unknown if failed else judged).add(record["seed"])
            if passed:
                passes.add(record["seed"])

    def _with_validated(self, key: tuple[str, str], triplet: Record) -> Record:
        """The chosen triplet with its pair's first validated pass, from every verdict of its group: the
        whole group is in memory, so a seed that passed mine's pre-filter but never came is unknown too."""
        block = triplet.get("difficulty")
        if not isinstance(block, dict) or not isinstance(block.get("seeds_tried"), list):
            return triplet
        passes, judged, unknown = self._seeds.get(key, (set(), set(), set()))
        missing = set(block.get("seeds_passed") or []) - judged
        first = first_validated(block["seeds_tried"], passes, unknown | missing)
        return {**triplet, "difficulty": {**block, "attempts_to_validated_pass": first}}

    def _offer(self, record: Record) -> None:
        """Keep the argmax-geometric passing candidate of its group (ties: smaller candidate id)."""
        key = self._group_key(record)
        best = self._groups.get(key)
        triplet = self._triplet(record)
        if best is None or _better(triplet, best):
            if self._pixel_only:
                triplet["selection"] = "smallest candidate id among passing ones: no semantic scores to rank"
            self._groups[key] = triplet


def _is_candidate(record: Record) -> bool:
    try:
        validate_as(Candidate, record)
    except RecordError:
        return False
    return True


def _sent(images: list[Any]) -> list[bytes | None]:
    """The prepared images' bytes; None for each image the offline judge does not read."""
    return [img.data for img in images]


def _scoring(instruction: str, images: list[Any]) -> list[Any]:
    source, edited = _sent(images) or [None, None]
    return [scoring_ask(source, edited, instruction)]


def _unwanted(instruction: str, images: list[Any]) -> list[Any]:
    source, edited = _sent(images) or [None, None]
    return [unwanted_ask(source, edited, instruction)]


def _aesthetic(images: list[Any]) -> list[Any]:
    (edited,) = _sent(images) or [None]
    return [aesthetic_ask(edited)]


def _better(a: Record, b: Record) -> bool:
    """Higher geometric mean wins; among equals the smaller candidate id, whatever the input order."""
    ga, gb = a["scores"]["geometric"], b["scores"]["geometric"]
    if ga is None or gb is None:  # offline: nothing to rank by
        return a["parents"][0] < b["parents"][0]
    return ga > gb or (ga == gb and a["parents"][0] < b["parents"][0])
