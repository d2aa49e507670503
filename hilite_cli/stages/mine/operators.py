"""The mining dataflow's steps after each model call, shared by both executors.

`check_source` (write a source, ask the A.5 gate) and `check_edit` (A.2-A.4 + low-level, write a
kept edit, build its candidate) decide an outcome and write only images; `record_source` and
`record_edit` put that outcome into the pool, errors and state through the run's `Recorder`. The
local executor calls both halves in its worker threads; the Ray executor runs the first half on CPU
actors and the second in the driver, so one process writes every manifest line.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from hilite_cli.images import ImageError, encode_image, load_image
from hilite_cli.providers import Provider
from hilite_cli.records import Record, RecordError, stable_id
from hilite_cli.stages.mine.jobs import Job
from hilite_cli.stages.mine.prefilter import Prefilter
from hilite_cli.stages.mine.recorder import Recorder, write_png
from hilite_cli.stages.mine.sources import SourcePlan, gate_source
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
    path = None
    try:
        if generated is not None:
            png = generated if isinstance(generated, bytes) else encode_image(generated)
            path = str(write_png(png, out_dir, "sources"))
        else:
            load_image(plan.image)  # a photo must be readable; the gate does not apply to it
            png, path = b"", plan.image
        outcome, verdict = gate_source(gate, plan, png)
    except (RecordError, ImageError) as exc:
        return SourceResult("failed", path, None, (getattr(exc, "kind", "bad_image"), str(exc)))
    if outcome.startswith("failed:"):
        return SourceResult(outcome, path, verdict, (outcome.removeprefix("failed:"), verdict.get("reason") or outcome))
    return SourceResult(outcome, path, verdict)


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
        if isinstance(edited, bytes):
            png, image = edited, Image.open(io.BytesIO(edited)).convert("RGB")  # our own PNG, from the editor
        else:
            png, image = encode_image(edited), edited
        verdict = prefilter.judge(job.instruction, source_png, png, source_array, np.asarray(image.convert("RGB")))
        if verdict.failure is not None:
            return EditResult("failed", failure=verdict.failure)
        outcome = "passed" if verdict.passed else f"rejected:{verdict.rejected_at}"
        candidate = None
        if verdict.passed or candidates.keep_rejected:
            output = write_png(png, candidates.out_dir, "edits")
            candidate = candidates.record(job, source, output, verdict.fields)
    except (RecordError, ImageError) as exc:
        return EditResult("failed", failure=(getattr(exc, "kind", "bad_image"), str(exc)))
    return EditResult(outcome, candidate, verdict.fields["prefilter"]["semantic"], passed=verdict.passed)


def record_edit(rec: Recorder, job: Job, result: EditResult, gpu_s: float) -> None:
    if result.failure is not None:
        rec.job_failed(job, *result.failure, gpu_s, edited=True)
        return
    if result.candidate is not None:
        rec.candidate(result.candidate)
    rec.job(job, result.outcome, gpu_s, candidate=result.candidate["id"] if result.candidate else None,
            semantic=result.semantic)
