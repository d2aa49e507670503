"""Before and after: the validation split scored by the base and the tuned judge, calibrated side by side.

Each judge's predictions go through `calibration.calibrate` against the validation split's de-biased
human scores (fitted with the training split's rater biases), so both columns are the same NHR
Tables 1, 2, 7 and Figures 9, 11 that `debias --predictions` reports, and the suggested threshold
uses debias's rule.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hilite_cli.records import Record
from hilite_cli.stages.calibration import CalibrationReport, calibrate


def read_jsonl(path: Path) -> list[Record]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def score_split(set_dir: Path, judge: str, provider_options: dict[str, Any] | None = None) -> list[Record]:
    """Ask `judge` (a PROVIDER[:MODEL] spec) prompt A.2 for every validation example; one prediction per
    item, null scores with the judge's status when it gave none."""
    from hilite_cli.images import sendable_bytes
    from hilite_cli.stages.judging import judge_block, open_provider, scores_from, scoring_ask

    folder = set_dir / "validation"
    rows = read_jsonl(folder / "metadata.jsonl")
    provider, _ = open_provider(judge, provider_options)
    try:
        asks = []
        for row in rows:
            source, edited = (sendable_bytes(str((folder / name).resolve())) for name in row["file_names"])
            asks.append(scoring_ask(source, edited, row["instruction"]))
        answers = provider.ask_many(asks)
    finally:
        provider.close()
    out = []
    for row, answer in zip(rows, answers, strict=True):
        scores = scores_from(answer)
        out.append({"item": row["item"], "category": row.get("category"), "instruction": scores["instruction"],
                    "aesthetics": scores["aesthetics"], "judge": judge_block(answer, "a2_evaluation")})
    return out


def compare(humans: Sequence[Record], predictions: dict[str, Sequence[Record]], threshold: float | None = None,
            beta: float = 0.5) -> dict[str, CalibrationReport]:
    """One calibration report per judge label, on the same human items."""
    return {label: calibrate(humans, rows, threshold=threshold, beta=beta) for label, rows in predictions.items()}
