"""Validator calibration against de-biased human scores (NHR Tables 1, 2, 7; Figures 9, 11).

Predictions (`{item, instruction, aesthetics}`, optional category) are joined to the per-item
records `debias` writes. Every item that cannot take part in a metric is counted under a named
reason, never silently left out, so a reader can see how many items each number rests on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel

from hilite_cli.config import load_config
from hilite_cli.records import Record, with_error
from hilite_cli.stages.debias import AXES, debiased_geometric, numbered, parse_id, parse_score

STAGE = "calibrate"
# NHR Figure 9: ground-truth score buckets; the last one is closed at 5.0.
BUCKETS: tuple[tuple[float, float], ...] = ((1.0, 2.0), (2.0, 3.0), (3.0, 4.0), (4.0, 4.5), (4.5, 5.0))
SuggestRule = Literal["fbeta", "precision"]


class AxisFit(BaseModel):
    """Table 1 for one axis."""

    n: int
    mae: float | None
    spearman: float | None
    reason: str | None = None


class CategoryFit(BaseModel):
    """Table 2: Spearman of the predicted vs human geometric mean within one category."""

    category: str
    n: int
    spearman: float | None
    reason: str | None = None


class Classification(BaseModel):
    """Table 7 at one threshold: positive prediction = both predicted scores >= threshold,
    success = both human scores > `human_success`. A ratio with a zero denominator is None."""

    threshold_instruction: float
    threshold_aesthetics: float
    n: int
    tp: int
    fp: int
    fn: int
    tn: int
    precision: float | None
    recall: float | None
    f1: float | None
    fbeta: float | None
    accuracy: float | None


class Bucket(BaseModel):
    """Figure 9: MAE over the items whose human score on this axis falls in [low, high)."""

    low: float
    high: float
    n: int
    mae: float | None


class Suggestion(BaseModel):
    rule: str
    threshold: float | None
    reason: str | None = None


class CalibrationReport(BaseModel):
    counts: dict[str, int]
    axes: dict[str, AxisFit]
    categories: list[CategoryFit]
    overall_geometric: CategoryFit
    classification: Classification
    buckets: dict[str, list[Bucket]]
    out_of_buckets: dict[str, int]
    sweep: list[Classification]
    suggestion: Suggestion
    human_success: float
    beta: float
    errors: list[dict[str, Any]]


def parse_predictions(
    records: Iterable[Any], category_field: str = "category", line_numbers: Iterable[int] | None = None
) -> tuple[dict[str, Record], list[Record]]:
    """`{item: prediction}` with checked scores; bad or duplicate records become error records
    naming their line (see `numbered`). A null score is kept as None (the validator gave none)."""
    predictions: dict[str, Record] = {}
    errors: list[Record] = []
    for line, record in numbered(records, line_numbers):
        try:
            if not isinstance(record, dict):
                raise ValueError(f"a prediction must be a JSON object, got {type(record).__name__}")
            item = parse_id(record.get("item"))
            if item is None:
                raise ValueError(f"`item` missing or not a string/integer id: {record.get('item')!r}")
            if item in predictions:
                raise ValueError(f"a second prediction for item {item!r}")
            category = record.get(category_field)
            parsed: Record = {"item": item, "category": None if category is None else str(category)}
            for axis in AXES:
                try:
                    parsed[axis] = None if record.get(axis) is None else parse_score(record[axis])
                except ValueError as exc:
                    raise ValueError(f"`{axis}` {exc}") from None
        except ValueError as exc:
            base = record if isinstance(record, dict) else {"value": record}
            errors.append({**with_error(base, STAGE, "invalid_prediction", f"line {line}: {exc}"), "line": line})
            continue
        predictions[item] = parsed
    return predictions, errors


def _spearman(x: np.ndarray, y: np.ndarray) -> tuple[float | None, str | None]:
    from scipy.stats import spearmanr

    if len(x) < 3:
        return None, "fewer_than_3_items"
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return None, "constant_scores"
    return float(spearmanr(x, y).statistic), None


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def classify(
    pred: np.ndarray, human: np.ndarray, thresholds: tuple[float, float], human_success: float, beta: float
) -> Classification:
    """Confusion counts and ratios; `pred`/`human` are n x 2 arrays (instruction, aesthetics)."""
    positive = np.all(pred >= np.asarray(thresholds), axis=1)
    success = np.all(human > human_success, axis=1)
    tp = int(np.sum(positive & success))
    fp = int(np.sum(positive & ~success))
    fn = int(np.sum(~positive & success))
    tn = int(np.sum(~positive & ~success))
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    b2 = beta * beta
    return Classification(
        threshold_instruction=thresholds[0],
        threshold_aesthetics=thresholds[1],
        n=len(pred),
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
        precision=precision,
        recall=recall,
        f1=_ratio(2 * tp, 2 * tp + fp + fn),
        fbeta=_ratio((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp),
        accuracy=_ratio(tp + tn, len(pred)),
    )


def mae_by_bucket(pred: np.ndarray, human: np.ndarray) -> tuple[list[Bucket], int]:
    """Figure 9 buckets for one axis, plus how many human scores fall outside [1, 5]
    (de-biasing can push a score past the scale's ends)."""
    buckets = []
    covered = np.zeros(len(human), dtype=bool)
    for k, (low, high) in enumerate(BUCKETS):
        last = k == len(BUCKETS) - 1
        inside = (human >= low) & ((human <= high) if last else (human < high))
        covered |= inside
        mae = float(np.mean(np.abs(pred[inside] - human[inside]))) if inside.any() else None
        buckets.append(Bucket(low=low, high=high, n=int(inside.sum()), mae=mae))
    return buckets, int((~covered).sum())


def sweep_thresholds(start: float = 3.0, stop: float = 5.0, step: float = 0.05) -> list[float]:
    """An inclusive, rounding-safe grid (3.0, 3.05, ..., 5.0)."""
    count = int(round((stop - start) / step)) + 1
    return [round(start + k * step, 10) for k in range(count)]


def suggest_threshold(
    sweep: Sequence[Classification], rule: SuggestRule = "fbeta", target_precision: float = 0.8
) -> Suggestion:
    """Pick an operating threshold from a sweep.

    `fbeta`: the threshold with the highest F-beta (beta < 1 weighs precision, which the paper
    prioritises because the pipeline can always generate more candidates); ties go to the lowest
    threshold, which keeps the most successes. `precision`: the lowest threshold whose precision
    reaches `target_precision`.
    """
    if rule == "fbeta":
        scored = [c for c in sweep if c.fbeta is not None]
        if not scored:
            return Suggestion(rule=rule, threshold=None, reason="no_threshold_with_defined_fbeta")
        best = max(scored, key=lambda c: (c.fbeta, -c.threshold_instruction))
        return Suggestion(rule=rule, threshold=best.threshold_instruction)
    reaching = [c for c in sweep if c.precision is not None and c.precision >= target_precision]
    if not reaching:
        return Suggestion(rule=f"precision>={target_precision}", threshold=None, reason="target_precision_not_reached")
    return Suggestion(rule=f"precision>={target_precision}", threshold=min(c.threshold_instruction for c in reaching))


def _axis_fit(pred: np.ndarray, human: np.ndarray) -> AxisFit:
    if len(pred) == 0:
        return AxisFit(n=0, mae=None, spearman=None, reason="no_joined_items")
    rho, reason = _spearman(pred, human)
    return AxisFit(n=len(pred), mae=float(np.mean(np.abs(pred - human))), spearman=rho, reason=reason)


def _geometric_fits(rows: list[tuple[str | None, float, float]]) -> tuple[CategoryFit, list[CategoryFit]]:
    """Overall and per-category Spearman on (category, predicted geometric, human geometric) rows."""

    def fit(name: str, sub: list[tuple[str | None, float, float]]) -> CategoryFit:
        rho, reason = _spearman(np.array([r[1] for r in sub]), np.array([r[2] for r in sub]))
        return CategoryFit(category=name, n=len(sub), spearman=rho, reason=reason)

    names = sorted({r[0] for r in rows if r[0] is not None})
    return fit("overall", rows), [fit(name, [r for r in rows if r[0] == name]) for name in names]


def _thresholds(threshold: float | None) -> tuple[float, float]:
    """One threshold for both axes, or the validator's own from configs/thresholds.toml [validate]."""
    if threshold is not None:
        return threshold, threshold
    validate = load_config("thresholds")["validate"]
    return float(validate["t_adh"]), float(validate["t_aes"])


def calibrate(
    human_items: Iterable[Record],
    prediction_records: Iterable[Any],
    *,
    threshold: float | None = None,
    human_success: float | None = None,
    grid: Sequence[float] | None = None,
    rule: SuggestRule = "fbeta",
    beta: float = 0.5,
    target_precision: float = 0.8,
    category_field: str = "category",
    line_numbers: Iterable[int] | None = None,
) -> CalibrationReport:
    """Everything NHR reports about an assessor, from `debias` item records and predictions.

    `threshold` applies to both axes (default: [validate] t_adh/t_aes); `human_success` defaults
    to [calibration] human_success; `grid` defaults to 3.0..5.0 in steps of 0.05.
    """
    # 1. settings
    thresholds = _thresholds(threshold)
    if human_success is None:
        human_success = float(load_config("thresholds")["calibration"]["human_success"])
    grid = sweep_thresholds() if grid is None else grid

    # 2. join by item, counting what cannot be joined
    predictions, errors = parse_predictions(prediction_records, category_field, line_numbers)
    humans = {str(h["item"]): h for h in human_items}
    joined = [(humans[i], predictions[i]) for i in humans if i in predictions]
    counts = {
        "human_items": len(humans),
        "predictions": len(predictions),
        "invalid_predictions": len(errors),
        "joined": len(joined),
        "human_without_prediction": sum(i not in predictions for i in humans),
        "prediction_without_human": sum(i not in humans for i in predictions),
    }

    # 3. per-axis fit (Table 1) and buckets (Figure 9) on the items with both numbers on that axis
    axes: dict[str, AxisFit] = {}
    buckets: dict[str, list[Bucket]] = {}
    outside: dict[str, int] = {}
    for axis in AXES:
        pairs = [(p[axis], h[axis]) for h, p in joined if p[axis] is not None and h.get(axis) is not None]
        counts[f"{axis}_missing_prediction"] = sum(p[axis] is None for _, p in joined)
        counts[f"{axis}_missing_human"] = sum(h.get(axis) is None for h, _ in joined)
        pred, human = np.array([p for p, _ in pairs], dtype=float), np.array([h for _, h in pairs], dtype=float)
        axes[axis] = _axis_fit(pred, human)
        buckets[axis], outside[axis] = mae_by_bucket(pred, human)

    # 4. items scored on both axes on both sides: classification (Table 7, Figure 11), Table 2
    both = [(h, p) for h, p in joined if all(p[a] is not None and h.get(a) is not None for a in AXES)]
    counts["both_axes"] = len(both)
    pred2 = np.array([[p[a] for a in AXES] for _, p in both], dtype=float).reshape(-1, 2)
    human2 = np.array([[h[a] for a in AXES] for h, _ in both], dtype=float).reshape(-1, 2)
    sweep = [classify(pred2, human2, (t, t), human_success, beta) for t in grid]
    rows = []
    for h, p in both:
        pg, hg = debiased_geometric(p["instruction"], p["aesthetics"]), h.get("geometric")
        if pg is not None and hg is not None:
            rows.append((p["category"] or h.get("category"), pg, hg))
    counts["geometric_undefined"] = len(both) - len(rows)
    overall, categories = _geometric_fits(rows)

    return CalibrationReport(
        counts=counts,
        axes=axes,
        categories=categories,
        overall_geometric=overall,
        classification=classify(pred2, human2, thresholds, human_success, beta),
        buckets=buckets,
        out_of_buckets=outside,
        sweep=sweep,
        suggestion=suggest_threshold(sweep, rule, target_precision),
        human_success=human_success,
        beta=beta,
        errors=errors,
    )

