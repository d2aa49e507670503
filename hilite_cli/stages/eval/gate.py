"""The regression gate of `hilite eval --baseline FILE --max-drop X` (exit 3, like score-dataset).

Every mean the baseline has (overall rows and each category, every metric) may fall by at most
`max_drop`; a mean the baseline has and the current run could not compute is a regression too.
Each reason is one line naming benchmark, row, metric, baseline, current and drop.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from hilite_cli.report.regression import EXIT_REGRESSION, drop_reason
from hilite_cli.stages.eval.aggregate import SCHEMA

__all__ = ["EXIT_REGRESSION", "check_eval_regression", "read_summary"]


def read_summary(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ValueError(f"--baseline {path}: cannot read it as JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ValueError(f"--baseline {path}: not a `hilite eval --json` summary (schema {SCHEMA!r})")
    return data


def _rows(summary: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield "all items", summary["overall"]["items"]
    yield "mean of categories", summary["overall"]["categories"]
    for name, row in summary["categories"].items():
        yield f"category {name}", row["means"]


def check_eval_regression(current: Mapping[str, Any], baseline: Mapping[str, Any], max_drop: float) -> list[str]:
    if baseline["benchmark"] != current["benchmark"]:
        raise ValueError(f"--baseline is a {baseline['benchmark']} summary, this run is {current['benchmark']}")
    for key in ("language", "subset", "protocol"):  # a summary from before --protocol was careful
        default = "careful" if key == "protocol" else None
        before = baseline.get("settings", {}).get(key, default)
        now_value = current.get("settings", {}).get(key, default)
        if before is not None and before != now_value:
            raise ValueError(f"--baseline was scored with {key} {before!r}, this run with {now_value!r}: not comparable")
    now = dict(_rows(current))
    reasons = []
    for row, means in _rows(baseline):
        for metric, base in means.items():
            if base is None:
                continue
            reason = drop_reason(f"{current['benchmark']} {row}: {metric}", base, now.get(row, {}).get(metric), max_drop)
            if reason:
                reasons.append(reason)
    return reasons
