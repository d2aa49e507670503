"""Triplet records ⟨source, instruction, edited⟩ and how a validated candidate becomes one.

A triplet's id is defined by its content, whatever its kind: the source image's hash, the
instruction, and the edited image's hash. Triplets carry both hashes (`sha256: {source, edited}`),
so later stages group by image content without re-reading files and a dataset can be audited.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from hilite_cli.records import Record, RecordError, Triplet, stable_id, validate_as

if TYPE_CHECKING:
    from hilite_cli.stages.judging import ImageFiles

# Candidate fields that a triplet renames (image -> source, output -> edited, id -> parents) or drops.
_CANDIDATE_ONLY: frozenset[str] = frozenset({"id", "parent", "image", "output", "passed"})


def triplet_id(source_sha: str, instruction: str, edited_sha: str) -> str:
    return stable_id(source_sha, instruction, edited_sha)


def is_triplet(record: Record) -> bool:
    return "kind" in record and "source" in record and "edited" in record


def is_scored_candidate(record: Record) -> bool:
    """What `validate --keep all` emits: a candidate with validate's `thresholds` and `passed` verdict.

    `mine` candidates carry a `passed` too, from the soft pre-filter; that is not a hard-filter pass,
    so without validate's `thresholds` a candidate is not taken for a validated one.
    """
    return {"output", "image", "passed", "thresholds"} <= record.keys() and not is_triplet(record)


def forward_triplet(scored: Record, source_sha: str, edited_sha: str) -> Record:
    """The forward triplet ⟨I_0, p_e, I_e⟩ of a candidate that passed validation.

    Unknown fields (t2i_prompt, model, seed, params, user metadata) travel along; the candidate's
    id becomes `parents[0]` and its task id (`parent`) becomes `task`.
    """
    carried = {k: v for k, v in scored.items() if k not in _CANDIDATE_ONLY}
    triplet: dict[str, Any] = {
        **carried,
        "id": triplet_id(source_sha, scored["instruction"], edited_sha),
        "source": scored["image"],
        "instruction": scored["instruction"],
        "edited": scored["output"],
        "kind": "forward",
        "parents": [scored["id"]],
        "sha256": {"source": source_sha, "edited": edited_sha},
    }
    if scored.get("parent") is not None:
        triplet["task"] = scored["parent"]
    return triplet


def triplet_of(record: Record, images: ImageFiles, stats: Counter[str], takes: str) -> Record | None:
    """The triplet a stage's input stands for: a valid triplet itself, or a passed candidate's forward.

    Stages downstream of validate accept both, so `validate --keep all` output can feed them; a
    candidate that did not pass is None and counted in `stats["not_passed_candidates"]`. Anything
    else is an invalid record whose message starts with `takes` (what the stage accepts).
    """
    if is_scored_candidate(record):
        if not record.get("passed"):
            stats["not_passed_candidates"] += 1
            return None
        return forward_triplet(record, images.sha(record["image"]), images.sha(record["output"]))
    if not is_triplet(record):
        raise RecordError("invalid_record", f"{takes} or scored candidates (validate --keep all); run edit/mine "
                                            "output through validate first")
    validate_as(Triplet, record)
    return record


def triplet_hashes(triplet: Record, images: ImageFiles) -> tuple[str, str]:
    """(source, edited) content hashes: the ones the triplet carries, else read from the files."""
    hashes = triplet.get("sha256") or {}
    return (hashes.get("source") or images.sha(triplet["source"]),
            hashes.get("edited") or images.sha(triplet["edited"]))
