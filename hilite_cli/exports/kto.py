"""KTO export (NHR 2.3): every scored candidate, labelled good when both scores clear the thresholds
and the filter that judged it did not reject it (`passed`, when the record carries it).

KTO learns from unpaired good/bad examples, so nothing is filtered by quality: a candidate that
fails the hard filter is exactly the "bad" example KTO needs. Only candidates lacking a score are
left out (a missing score is not a failure), and they are counted. Scores alone are not enough:
validate and mine also reject for failed checks (unwanted changes, low-level), so a record with
`passed` other than true is a bad example whatever its scores.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from hilite_cli.config import load_config
from hilite_cli.exports.common import ExportSummary, provenance, readable_records, scored_edits, write_jsonl
from hilite_cli.records import Record


def kto_rows(
    scored: Iterable[Record], *, t_aes: float, t_adh: float, stats: Counter[str] | None = None
) -> Iterator[dict[str, Any]]:
    """One row per candidate with both scores; `stats` counts what was skipped and why."""
    stats = stats if stats is not None else Counter()
    for edit in scored_edits(scored, stats):
        record = edit.record
        assert edit.adherence is not None and edit.aesthetics is not None
        accepted = "passed" not in record or record["passed"] is True
        good = accepted and edit.aesthetics >= t_aes and edit.adherence >= t_adh
        stats["good" if good else "bad"] += 1
        yield {
            "id": record.get("id"),
            "source": edit.source,
            "instruction": edit.instruction,
            "edited": edit.edited,
            "label": good,
            "scores": edit.scores,
            "thresholds": {"aesthetics": t_aes, "instruction": t_adh},
            "provenance": provenance(record),
        }


def write_kto(
    scored: Iterable[Record],
    path: str | os.PathLike[str],
    *,
    t_aes: float | None = None,
    t_adh: float | None = None,
) -> ExportSummary:
    """Write KTO rows to a JSONL file; thresholds default to `configs/thresholds.toml` [validate]."""
    defaults = load_config("thresholds")["validate"]
    stats: Counter[str] = Counter()
    summary = ExportSummary(format="kto", target=str(path))
    rows = kto_rows(
        readable_records(scored, summary),
        t_aes=defaults["t_aes"] if t_aes is None else t_aes,
        t_adh=defaults["t_adh"] if t_adh is None else t_adh,
        stats=stats,
    )
    summary.written = write_jsonl(rows, path, path_fields=("source", "edited"))
    summary.take_stats(stats, counted=("good", "bad"))
    return summary
