"""DPO export (NHR 2.3): preference pairs among candidates for the same (source image, instruction).

Every pair whose geometric means differ by more than `min_margin` is emitted (not only best-vs-rest):
with k attempts per task that is up to k(k-1)/2 pairs, which is what DPO's pairwise loss can use.
Order is deterministic: groups in order of first appearance; inside a group candidates are ranked by
geometric mean (ties by id) and pairs come out as (rank i, rank j) for i < j. Equal scores make no pair.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from hilite_cli.exports.common import Edit, ExportSummary, provenance, readable_records, scored_edits, write_jsonl
from hilite_cli.records import Record, stable_id


def group_key(edit: Edit) -> tuple[str, str]:
    """Candidates compete only with others made from the same source file for the same instruction."""
    return (os.path.normpath(os.path.abspath(edit.source)), edit.instruction)


def ranked_groups(scored: Iterable[Record], stats: Counter[str]) -> Iterator[list[Edit]]:
    """Scored candidates grouped by `group_key`, each group best first; unscored ones are counted."""
    groups: dict[tuple[str, str], list[Edit]] = {}
    for edit in scored_edits(scored, stats, need_geometric=True):
        groups.setdefault(group_key(edit), []).append(edit)
    for edits in groups.values():
        yield sorted(edits, key=lambda e: (-(e.geometric or 0.0), str(e.record.get("id"))))


def preference_pairs(
    scored: Iterable[Record], *, min_margin: float = 0.0, stats: Counter[str] | None = None
) -> Iterator[tuple[Edit, Edit, float]]:
    """(winner, loser, margin) for every pair in a group whose geometric means differ by > `min_margin`."""
    if min_margin < 0:
        raise ValueError(f"`min_margin` must be >= 0 (a negative margin would pair ties), got {min_margin}")
    stats = stats if stats is not None else Counter()
    for ranked in ranked_groups(scored, stats):
        for i, winner in enumerate(ranked):
            for loser in ranked[i + 1 :]:
                margin = (winner.geometric or 0.0) - (loser.geometric or 0.0)
                if margin > min_margin:
                    stats["pairs"] += 1
                    yield winner, loser, margin
                else:
                    stats["below_margin"] += 1


def dpo_pairs(
    scored: Iterable[Record], *, min_margin: float = 0.0, stats: Counter[str] | None = None
) -> Iterator[dict[str, Any]]:
    """DPO rows: {source, instruction, chosen, rejected, chosen_scores, rejected_scores, margin, provenance}."""
    for winner, loser, margin in preference_pairs(scored, min_margin=min_margin, stats=stats):
        yield {
            "id": stable_id("dpo", winner.record.get("id"), loser.record.get("id")),
            "source": winner.source,
            "instruction": winner.instruction,
            "chosen": winner.edited,
            "rejected": loser.edited,
            "chosen_scores": winner.scores,
            "rejected_scores": loser.scores,
            "margin": margin,
            "provenance": {"chosen": provenance(winner.record), "rejected": provenance(loser.record)},
        }


def write_dpo(scored: Iterable[Record], path: str | os.PathLike[str], *, min_margin: float = 0.0) -> ExportSummary:
    """Write DPO pair rows to a JSONL file."""
    stats: Counter[str] = Counter()
    summary = ExportSummary(format="dpo", target=str(Path(path)))
    pairs = dpo_pairs(readable_records(scored, summary), min_margin=min_margin, stats=stats)
    summary.written = write_jsonl(pairs, path, path_fields=("source", "chosen", "rejected"))
    summary.take_stats(stats, counted=("pairs", "below_margin"))
    return summary
