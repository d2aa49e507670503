"""The mining dataflow's steps after each model call, shared by both executors.

`check_source` (write a source, ask the A.5 gate) and `check_edit` (A.2-A.4 + low-level, write a
kept edit, build its candidate) decide an outcome and write only images; `record_source` and
`record_edit` put that outcome into the pool, errors and state through the run's `Recorder`. The
local executor calls both halves in its worker threads; the Ray executor runs the first half on CPU
actors and the second in the driver, so one process writes every manifest line.

Under `--batch-api` the same halves are split further: `write_source` then `gate_many` for all the
run's generated sources, and `edit_to_judge` / `Prefilter.judge_many` / `edit_result` for a window
of edits, so each window's provider calls are one batch job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from hilite_cli.images import ImageError, decode_image, encode_image, load_image, read_image_file
from hilite_cli.models.hosted import record_fields
from hilite_cli.models.registry import get_spec
from hilite_cli.providers import Provider
from hilite_cli.records import Record, RecordError, stable_id
from hilite_cli.stages.mine.jobs import Job
from hilite_cli.stages.mine.prefilter import Edit, Prefilter, Verdict
from hilite_cli.stages.mine.recorder import Recorder, write_png
from hilite_cli.stages.mine.sources import SourcePlan, gate_ask, gate_outcome, gate_record, gate_source
from hilite_cli.storage import Location

# Source provenance copied onto every candidate.
ORIGIN_FIELDS = ("kind", "specs", "t2i_model", "t2i_params", "seed", "width", "height", "gate")


@dataclass
class SourceResult:
    """What became of one source: an outcome for the state, or a failure (kind, message)."""

    outcome: str
    image: str | None = None
    gate: Record | None = None
    failure: tuple[str, str] | None = None


def check_source(gate: Provider | None, plan: SourcePlan, generated: Image.Image | bytes | None, out_dir: Location) -> SourceResult:
    """Write a generated source (PNG, content-addressed) and ask the gate; a photo must be readable."""
    try:
        path, png = write_source(plan, generated, out_dir)
    except (RecordError, ImageError) as exc:
        return SourceResult("failed", None, None, (getattr(exc, "kind", "bad_image"), str(exc)))
    try:
        return source_result(path, *gate_source(gate, plan, png))
    except (RecordError, ImageError) as exc:
        return SourceResult("failed", path, None, (getattr(exc, "kind", "bad_image"), str(exc)))


def write_source(plan: SourcePlan, generated: Image.Image | bytes | None, out_dir: Location) -> tuple[str, bytes]:
    """(path, PNG bytes) of a source: a generated one written content-addressed; a photo checked readable
    (its PNG is empty: the gate does not apply to photos)."""
    if generated is None:
        load_image(plan.image)
        return plan.image, b""
    png = generated if isinstance(generated, bytes) else encode_image(generated)
    return str(write_png(png, out_dir, "sources")), png


def read_source(entry: Record) -> tuple[Image.Image, bytes]:
    """A usable source's pixels and the PNG bytes the providers see: a generated source's own file (no
    re-encoding), a photo encoded as PNG whatever its format on disk. Both executors load sources here."""
    if entry["kind"] != "t2i":
        image = load_image(entry["image"])
        return image, encode_image(image)
    png = read_image_file(entry["image"])  # read once: decoded for the pixels, sent as it is
    return decode_image(png, entry["image"]), png


def source_result(path: str, outcome: str, verdict: Record) -> SourceResult:
    if outcome.startswith("failed:"):
        return SourceResult(outcome, path, verdict, (outcome.removeprefix("failed:"), verdict.get("reason") or outcome))
    return SourceResult(outcome, path, verdict)


def gate_many(gate: Provider, sources: list[tuple[SourcePlan, str, bytes]]) -> list[SourceResult]:
    """The A.5 gate for many generated sources (path, PNG) in one `ask_many` (one batch job under --batch-api)."""
    answers = gate.ask_many([gate_ask(plan.t2i_prompt or "", png) for plan, _, png in sources])
    return [source_result(path, *gate_outcome(gate_record(answer)))
            for (_, path, _), answer in zip(sources, answers, strict=True)]


def record_source(rec: Recorder, plan: SourcePlan, result: SourceResult, gpu_s: float) -> None:
    if result.failure is not None:
        rec.source_failed(plan, *result.failure, gpu_s, image=result.image, gate=result.gate)
    else:
        assert result.image is not None and result.gate is not None
        rec.source(plan, result.outcome, result.image, result.gate, gpu_s)


def candidate_id(job: Job, editor: str, edit_params: dict[str, Any]) -> str:
    return stable_id("candidate", job.source, job.instruction, editor, job.seed, edit_params)


@dataclass(frozen=True)
class Candidates:
    """How candidates of one run are named and described: the editor and its (recorded) params."""

    editor: str
    edit_params: dict[str, Any]
    recorded_params: dict[str, Any]
    out_dir: Location
    keep_rejected: bool

    def record(self, job: Job, source: Record, output: Location, fields: Record) -> Record:
        """The candidate record (DESIGN.md) plus pre-filter results and the source's provenance."""
        origin = {k: source[k] for k in ORIGIN_FIELDS if k in source}
        return {
            "id": candidate_id(job, self.editor, self.edit_params),
            "parent": job.source,
            "image": source["image"],
            "instruction": job.instruction,
            "model": self.editor,
            "prompt": job.instruction,
            "seed": job.seed,
            "params": self.recorded_params,
            "output": str(output),
            "t2i_prompt": source.get("t2i_prompt"),
            "origin": origin,
            "job": job.id,
            "licence": get_spec(self.editor).licence_record(),
            **fields,
        }


@dataclass
class EditResult:
    """What became of one edit attempt; `passed` tells the scheduler's --until-first-pass."""

    outcome: str
    candidate: Record | None = None
    semantic: str | None = None
    failure: tuple[str, str] | None = None
    passed: bool = False


def check_edit(
    prefilter: Prefilter, job: Job, source: Record, source_png: bytes, source_array: np.ndarray,
    edited: Image.Image | bytes, candidates: Candidates,
) -> EditResult:
    """Pre-filter one edit and write it if it is kept."""
    try:
        edit = edit_to_judge(prefilter, job, source_png, source_array, edited)
        result = edit_result(prefilter.judge_many([edit])[0], job, source, edit.edited_png, candidates)
        if result.candidate is not None and isinstance(edited, Image.Image):
            result.candidate.update(record_fields(edited))  # a hosted editor's attempt, provenance and cost
        return result
    except (RecordError, ImageError) as exc:
        return EditResult("failed", failure=(getattr(exc, "kind", "bad_image"), str(exc)))


def edit_to_judge(
    prefilter: Prefilter, job: Job, source_png: bytes, source_array: np.ndarray, edited: Image.Image | bytes
) -> Edit:
    """The pre-filter's view of one edit: PNG bytes (our own, from the editor or the staging folder) and
    its low-level check, computed here from the pixels."""
    if isinstance(edited, bytes):
        png, image = edited, decode_image(edited, f"staged edit of job {job.id}")
    else:
        png, image = encode_image(edited), edited
    return Edit(job.instruction, source_png, png, prefilter.lowlevel_check(source_array, np.asarray(image.convert("RGB"))))


def edit_result(verdict: Verdict, job: Job, source: Record, png: bytes, candidates: Candidates) -> EditResult:
    """The outcome of a judged edit; a kept one (passed, or any with --keep-rejected) is written to edits/."""
    if verdict.failure is not None:
        return EditResult("failed", failure=verdict.failure)
    outcome = "passed" if verdict.passed else f"rejected:{verdict.rejected_at}"
    candidate = None
    if verdict.passed or candidates.keep_rejected:
        output = write_png(png, candidates.out_dir, "edits")
        candidate = candidates.record(job, source, output, verdict.fields)
    return EditResult(outcome, candidate, verdict.fields["prefilter"]["semantic"], passed=verdict.passed)


def record_edit(rec: Recorder, job: Job, result: EditResult, gpu_s: float) -> None:
    if result.failure is not None:
        rec.job_failed(job, *result.failure, gpu_s, edited=True)
        return
    if result.candidate is not None:
        rec.candidate(result.candidate)
    rec.job(job, result.outcome, gpu_s, candidate=result.candidate["id"] if result.candidate else None,
            semantic=result.semantic)
