"""What every export shares: reading an edit out of a record, provenance, safe atomic writes.

Exports accept both record shapes the pipeline produces: scored candidates (`image` → `output`)
and triplets (`source` → `edited`), so a user can export straight from `validate` or after
`invert`/`bootstrap` without reshaping anything.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson

from hilite_cli import storage
from hilite_cli.images import (
    ImageError,
    encode_image,
    file_mode,
    image_file_bytes,
    load_image,
    safe_join,
    write_bytes_atomic,
)
from hilite_cli.manifest import is_stream, write_target
from hilite_cli.outputs import temp_prefix
from hilite_cli.metrics.geometric import geometric_mean
from hilite_cli.records import Record, stable_id, with_error

STAGE = "export"
IMAGES_DIR = "images"  # where folder exports keep their content-addressed image copies

# Provenance keys copied from a record when present: enough to audit and rebuild a sample.
PROVENANCE_KEYS: tuple[str, ...] = (
    "id",
    "parent",
    "parents",
    "kind",
    "model",
    "seed",
    "params",
    "t2i_prompt",
    "judge",
    "checks",
    "category",
    "difficulty",  # mine's attempts-to-pass block: the curriculum column (`export --order difficulty`)
    "licence",  # the editor's licence, where the model registry gave one
    "source_licence",  # the source image's licence, where the record carries one
)

# Why a training export left a record out, as the summary line says it.
LEFT_OUT: dict[str, str] = {
    "rejected": "rejected (passed false; --include-rejected keeps them)",
    "no_verdict": "no verdict (passed null; --include-rejected keeps them)",
    "upstream_error": "failed upstream",
    "missing_scores": "missing a score",
    "duplicate_id": "duplicate id",
    "below_margin": "pairs within --min-margin",
}

_SAFE_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Edit:
    """One (source, instruction, edited) view of a record, with its two judge scores if both exist."""

    record: Record
    source: str
    edited: str
    instruction: str
    adherence: float | None
    aesthetics: float | None

    @property
    def scored(self) -> bool:
        return self.adherence is not None and self.aesthetics is not None

    @property
    def geometric(self) -> float | None:
        """√(s_adh · s_aes), the paper's ranking score, recomputed so it always matches the two axes.

        None for a negative score too: such an edit has no rank, so exports leave it out of rankings
        rather than fail the whole export on one record.
        """
        try:
            return geometric_mean(self.adherence, self.aesthetics)
        except ValueError:
            return None

    @property
    def scores(self) -> dict[str, float | None]:
        return {"instruction": self.adherence, "aesthetics": self.aesthetics, "geometric": self.geometric}


@dataclass
class Facts:
    """How the exported records were made, gathered for the dataset card: editors, judges, prompt
    versions, thresholds and licences, each with how many records named it."""

    editors: Counter[str] = field(default_factory=Counter)
    judges: Counter[str] = field(default_factory=Counter)
    prompts: Counter[str] = field(default_factory=Counter)
    thresholds: Counter[str] = field(default_factory=Counter)
    editor_licences: dict[str, str] = field(default_factory=dict)
    source_licences: Counter[str] = field(default_factory=Counter)
    include_rejected: bool = False

    def add(self, record: Record) -> None:
        model = str(record.get("model") or "unknown")
        self.editors[model] += 1
        licence = record.get("licence")
        if licence is not None or model not in self.editor_licences:
            self.editor_licences[model] = _licence_text(licence)
        judge = record.get("judge") if isinstance(record.get("judge"), dict) else {}
        if judge.get("model") or judge.get("provider"):
            self.judges[f"{judge.get('provider') or '?'}:{judge.get('model') or '?'}"] += 1
        if judge.get("prompt_version"):
            self.prompts[f"{judge.get('prompt') or 'prompt'} {judge['prompt_version']}"] += 1
        thresholds = record.get("thresholds")
        if isinstance(thresholds, dict):
            self.thresholds[", ".join(f"{k} >= {v}" for k, v in sorted(thresholds.items()))] += 1
        self.source_licences[_licence_text(record.get("source_licence"))] += 1


def _licence_text(value: Any) -> str:
    """A licence as the records give it (a name, or a {id/name, url} block), else "unknown"."""
    if isinstance(value, dict):
        name = value.get("id") or value.get("spdx") or value.get("name")
        return f"{name} ({value['url']})" if name and value.get("url") else str(name or "unknown")
    return str(value) if isinstance(value, str) and value.strip() else "unknown"


@dataclass
class ExportSummary:
    """What an export did: rows written, records skipped by reason, tallies, and error records."""

    format: str
    target: str
    written: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    counts: Counter[str] = field(default_factory=Counter)
    errors: list[Record] = field(default_factory=list)
    facts: Facts = field(default_factory=Facts)
    warnings: list[str] = field(default_factory=list)

    def left_out(self) -> str:
        """The skipped records as the summary line names them: count and why."""
        return ", ".join(f"{n} left out: {LEFT_OUT.get(k, k)}" for k, n in self.skipped.items() if n)

    def take_stats(self, stats: Counter[str], counted: tuple[str, ...]) -> None:
        """A row generator's `stats`: the `counted` keys are tallies, every other key a skip reason."""
        self.counts.update({k: stats[k] for k in counted})
        self.skipped.update({k: v for k, v in stats.items() if k not in counted})

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "target": self.target,
            "written": self.written,
            "skipped": dict(self.skipped),
            "counts": dict(self.counts),
            "errors": len(self.errors),
        }


def _score(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def as_edit(record: Record) -> Edit | None:
    """The edit a record describes, or None when it names no source/edited pair."""
    source = record.get("source") or record.get("image")
    edited = record.get("edited") or record.get("output")
    instruction = record.get("instruction")
    if not isinstance(source, str) or not isinstance(edited, str) or not isinstance(instruction, str):
        return None
    if not instruction.strip():  # a training pair with an empty prompt teaches nothing
        return None
    scores = record.get("scores") if isinstance(record.get("scores"), dict) else {}
    return Edit(
        record=record,
        source=source,
        edited=edited,
        instruction=instruction,
        adherence=_score(scores.get("instruction")),
        aesthetics=_score(scores.get("aesthetics")),
    )


def scored_edits(records: Iterable[Record], stats: Counter[str], *, need_geometric: bool = False) -> Iterator[Edit]:
    """The edits of records with both scores (and a geometric mean if asked); `stats` counts the rest by reason."""
    for record in records:
        if record.get("error"):
            stats["upstream_error"] += 1
            continue
        edit = as_edit(record)
        if edit is None:
            stats["invalid_record"] += 1
            continue
        if not edit.scored or (need_geometric and edit.geometric is None):
            stats["missing_scores"] += 1
            continue
        yield edit


def readable_records(records: Iterable[Record], summary: ExportSummary) -> Iterator[Record]:
    """The records an export can read; one naming no source, edited image or instruction becomes an
    error record (a malformed record is bad input, not a quality verdict to count and skip)."""
    for record in records:
        if not record.get("error") and as_edit(record) is None:
            summary.errors.append(unusable_error(record))
            continue
        if not record.get("error"):
            summary.facts.add(record)
        yield record


def verdict_skip(record: Record) -> str | None:
    """Why a training export leaves a judged record out by default: `passed` false or null. A record
    without `passed` (a triplet, an inversion) carries no verdict to honour and is kept."""
    if "passed" not in record or record["passed"] is True:
        return None
    return "rejected" if record["passed"] is False else "no_verdict"


def verdict_columns(record: Record) -> dict[str, Any]:
    """`passed` and the thresholds it was judged against, so a row kept with --include-rejected says what it is."""
    thresholds = record.get("thresholds") if isinstance(record.get("thresholds"), dict) else {}
    passed = record.get("passed")
    return {
        "passed": passed if isinstance(passed, bool) else None,
        "threshold_instruction": _score(thresholds.get("instruction")),
        "threshold_aesthetics": _score(thresholds.get("aesthetics")),
    }


def provenance(record: Record) -> dict[str, Any]:
    return {key: record[key] for key in PROVENANCE_KEYS if record.get(key) is not None}


def difficulty_of(record: Record) -> float | None:
    """Attempts to the first validated pass, else to the first pre-filter pass (mine's `difficulty`); None if unknown."""
    block = record.get("difficulty")
    if not isinstance(block, dict):
        return None
    value = block.get("attempts_to_validated_pass") or block.get("attempts_to_pass")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def flat_columns(edit: Edit) -> dict[str, Any]:
    """Id, scores, difficulty and provenance (as a JSON string) as scalar columns: every imagefolder row gets one Arrow schema."""
    return {
        "id": str(edit.record.get("id")),
        "score_instruction": edit.adherence,
        "score_aesthetics": edit.aesthetics,
        "score_geometric": edit.geometric,
        "difficulty": difficulty_of(edit.record),
        **verdict_columns(edit.record),
        "provenance": dumps(provenance(edit.record)).decode(),
    }


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def file_key(record: Record) -> str:
    """A file-name-safe key from the record id (hashed when the id is not already safe)."""
    rid = str(record.get("id") or stable_id(record.get("source") or record.get("image"), record.get("instruction")))
    return rid if _SAFE_KEY.fullmatch(rid) else stable_id(rid)


def store_image(src: str, out_dir: str | os.PathLike[str]) -> str:
    """Write the image itself (images.image_file_bytes: never bytes after its end) into `out_dir/images/`
    under a content name, so the same image exported twice is stored once; returns the relative path."""
    data, suffix = image_file_bytes(src)
    relative = f"{IMAGES_DIR}/{hashlib.sha256(data).hexdigest()[:16]}{suffix}"
    target = safe_join(out_dir, relative)
    if not target.exists():
        write_bytes_atomic(target, data)
    return relative


def jpeg_bytes(path: str) -> bytes:
    """A JPEG file's own bytes up to EOI, byte for byte; any other format decoded once and encoded as JPEG
    (quality 95), for columns whose name promises JPEG (Pick-a-Pic's `jpg_0`, NHR-Edit's `.jpg` files)."""
    data, suffix = image_file_bytes(path)
    return data if suffix == ".jpg" else encode_image(load_image(path), "jpg")


def image_problem(edit: Edit) -> tuple[str, str] | None:
    """(kind, message) for the first image that is missing or does not decode, or None if both do.

    Folder exports copy files as they are, so each is decoded once here: a text file named .png,
    a truncated file or a decompression bomb must not land in a training set.
    """
    for role, path in (("source", edit.source), ("edited", edit.edited)):
        if not storage.is_file(path):
            return "missing_image", f"{role} image not found: {path}"
        try:
            load_image(path)
        except ImageError as exc:
            return "bad_image", f"{role} image: {exc}"
    return None


def unusable_error(record: Record) -> Record:
    message = "record names no `source`/`image`, `edited`/`output` and non-empty `instruction`"
    return with_error(record, STAGE, "invalid_record", message)


class AtomicFile:
    """A file written under a temp name in its final folder and renamed on success, removed on failure."""

    def __init__(self, target: str | os.PathLike[str], mode: str = "wb") -> None:
        self.target = Path(write_target(target))  # a symlink is written through, never replaced
        self.mode = mode
        self._tmp: str | None = None
        self._fh: IO[Any] | None = None

    def __enter__(self) -> IO[Any]:
        if is_stream(self.target):  # a device or FIFO (`--to /dev/stdout`): streamed in place
            self._fh = open(self.target, self.mode)  # noqa: SIM115 - closed in __exit__
            return self._fh
        self.target.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(prefix=temp_prefix(self.target), suffix=".tmp", dir=self.target.parent)
        os.chmod(self._tmp, file_mode())  # mkstemp makes 0600; exports are shared like any written file
        self._fh = os.fdopen(fd, self.mode)
        return self._fh

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._fh is not None
        if self._tmp is None:
            self._fh.close()
            return
        try:
            if exc_type is None:
                self._fh.flush()
                os.fsync(self._fh.fileno())
            self._fh.close()
            if exc_type is None:
                os.replace(self._tmp, self.target)
        finally:
            Path(self._tmp).unlink(missing_ok=True)


def write_jsonl(rows: Any, path: str | os.PathLike[str], *, path_fields: tuple[str, ...] = ()) -> int:
    """Stream `rows` into a JSONL file atomically; returns how many were written.

    Image paths in `path_fields` (a path, or a list of paths such as TRL's `images`) are written
    relative to the file's folder, as in every manifest, so the export moves together with its images.
    """
    from hilite_cli.manifest import relativize_paths

    base = Path(path).resolve().parent

    def relative(row: dict[str, Any]) -> dict[str, Any]:
        lists = {k: [os.path.relpath(p, base) if isinstance(p, str) and os.path.isabs(p) else p for p in row[k]]
                 for k in path_fields if isinstance(row.get(k), list)}
        return {**relativize_paths(row, base, path_fields), **lists}

    count = 0
    with AtomicFile(path) as fh:
        for row in rows:
            fh.write(dumps(relative(row) if path_fields else row) + b"\n")
            count += 1
    return count


def prepare_out_dir(out_dir: str | os.PathLike[str]) -> Path:
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"`out_dir` {root} exists and is not a directory")
    root.mkdir(parents=True, exist_ok=True)
    return root.resolve()


def checked_edits(
    records: Iterable[Record], summary: ExportSummary, *, need_scores: bool = False, only_passed: bool = False
) -> Iterator[Edit]:
    """The records an export can use; the others are counted as skipped or kept as error records.

    Records that already failed upstream (`error`) are skipped, not re-reported; a record whose
    image file is missing becomes an error record and the rest still export. With `only_passed` (the
    training-set exports' default) a record that validate or mine rejected is counted and left out.
    """
    summary.facts.include_rejected = not only_passed
    for record in records:
        if record.get("error"):
            summary.skipped["upstream_error"] += 1
            continue
        if only_passed and (reason := verdict_skip(record)) is not None:
            summary.skipped[reason] += 1
            continue
        edit = as_edit(record)
        if edit is None:
            summary.errors.append(unusable_error(record))
            continue
        if need_scores and not edit.scored:
            summary.skipped["missing_scores"] += 1
            continue
        problem = image_problem(edit)
        if problem is not None:
            summary.errors.append(with_error(record, STAGE, *problem))
            continue
        summary.facts.add(record)
        yield edit
