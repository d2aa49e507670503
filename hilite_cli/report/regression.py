"""CI regression gate: compare a score-dataset results dict to a baseline of the same schema.

Every reason is one line naming dataset, metric, baseline, current and drop, so a failing CI log
says what regressed without opening the report. The CLI exits `EXIT_REGRESSION` when any is returned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from hilite_cli.config import load_config
from hilite_cli.stages.score_summary import METRIC_KEYS, SCHEMA

EXIT_REGRESSION = 3
# Descriptive metrics where neither direction is "better" are never gated by max_drop.
HIGHER_IS_BETTER: tuple[str, ...] = tuple(k for k in METRIC_KEYS if k != "changed_fraction")
_EPS = 1e-12  # a drop of exactly max_drop, up to float noise, is still allowed


def default_max_drop() -> float:
    """`--max-drop` when not given: configs/metrics.toml [regression] max_drop."""
    return float(load_config("metrics")["regression"]["max_drop"])


def read_results(path: str | Path) -> dict[str, Any]:
    """Load a `--json` results file (e.g. the `--baseline`), refusing anything of another schema."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"results file not found: {path}")
    try:
        results = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(results, dict):
        raise ValueError(f"{path}: expected a JSON object")
    _check_schema(results, str(path))
    return results


def parse_thresholds(specs: Sequence[str], option: str = "--fail-under") -> dict[str, float]:
    """`["geometric=4.2", "ssim=0.6"]` -> {"geometric": 4.2, "ssim": 0.6}; bad input names the option."""
    out = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        name = name.strip()
        if not sep or name not in METRIC_KEYS:
            raise ValueError(f"`{option}` takes METRIC=VALUE with METRIC in {', '.join(METRIC_KEYS)}; got {spec!r}")
        try:
            out[name] = float(value)
        except ValueError:
            raise ValueError(f"`{option}` value for {name} must be a number, got {value!r}") from None
    return out


def drop_reason(where: str, base: float, now: float | None, max_drop: float) -> str | None:
    """The one-line reason a value fell more than `max_drop` below its baseline or is gone, else None;
    the score-dataset gate and `hilite eval --baseline` word (and round) every drop alike."""
    if now is None:
        return f"{where} has no value now (baseline {base:.4f})"
    if base - now > max_drop + _EPS:
        return f"{where} dropped from {base:.4f} to {now:.4f} (drop {base - now:.4f} > max-drop {max_drop:.4f})"
    return None


def _mean(results: Mapping[str, Any], dataset: str, metric: str) -> float | None:
    block = results["datasets"].get(dataset, {}).get("metrics", {}).get(metric)
    return None if block is None else block.get("mean")


def _check_schema(results: Mapping[str, Any], what: str) -> None:
    if results.get("schema") != SCHEMA or "datasets" not in results:
        raise ValueError(f"{what} is not a score-dataset results file (expected schema {SCHEMA!r})")


def match_baseline(baseline: Mapping[str, Any], names: Sequence[str]) -> str:
    """How this run's datasets meet the baseline's: by name (`--name`, else the file stem).

    A baseline dataset this run does not have is a usage error, not a regression: a renamed file is
    the common cause, and the fix is `--name`. Returns the line that says how they were matched.
    """
    _check_schema(baseline, "baseline")
    missing = [d for d in baseline["datasets"] if d not in names]
    if missing:
        raise ValueError(
            f"--baseline has dataset(s) {', '.join(missing)} that this run does not (this run: {', '.join(names)}; "
            "datasets are matched by name, --name or else the file stem): give --name "
            + " ".join(f"--name {d}" for d in missing)
            + " in the order of the manifests, or a baseline of these datasets"
        )
    matched = [d for d in names if d in baseline["datasets"]]
    new = [d for d in names if d not in baseline["datasets"]]
    line = f"baseline: compared by name: {', '.join(matched)}"
    return line + (f"; not in the baseline (no comparison): {', '.join(new)}" if new else "")


def check_regression(
    current: Mapping[str, Any],
    baseline: Mapping[str, Any] | None = None,
    *,
    max_drop: float | Mapping[str, float] | None = None,
    fail_under: Mapping[str, float] | None = None,
) -> list[str]:
    """One-line reasons the current results regressed; empty when the gate passes.

    `max_drop`: the largest allowed absolute fall of a dataset's mean versus the baseline, one
    number for every higher-is-better metric or a per-metric mapping. `fail_under`: floors for a
    dataset's mean. A metric the baseline has but the current run could not compute is a
    regression too: the gate cannot vouch for a number it does not have.
    """
    _check_schema(current, "current results")
    reasons: list[str] = []
    if baseline is not None and max_drop is not None:
        _check_schema(baseline, "baseline")
        drops = {m: float(max_drop) for m in HIGHER_IS_BETTER} if isinstance(max_drop, int | float) else dict(max_drop)
        for dataset, entry in baseline["datasets"].items():
            if dataset not in current["datasets"]:
                reasons.append(f"{dataset}: in the baseline but not in the current results")
                continue
            for metric, allowed in drops.items():
                base = entry.get("metrics", {}).get(metric, {}).get("mean")
                if base is None:
                    continue
                reason = drop_reason(f"{dataset}: {metric}", base, _mean(current, dataset, metric), allowed)
                if reason:
                    reasons.append(reason)
    for metric, floor in (fail_under or {}).items():
        for dataset in current["datasets"]:
            now = _mean(current, dataset, metric)
            if now is None:
                reasons.append(f"{dataset}: {metric} has no value (fail-under {floor:.4f})")
            elif now < floor:
                reasons.append(f"{dataset}: {metric} {now:.4f} is under fail-under {floor:.4f}")
    return reasons
