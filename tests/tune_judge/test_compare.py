"""The before/after report on hand-made predictions whose MAE, Spearman and Table 7 counts are known."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from support.cli import hilite

from hilite_cli.report.tune_judge_page import judges_side_by_side
from hilite_cli.stages.tune_judge.compare import compare

HUMAN = [1.0, 2.0, 3.0, 4.5, 5.0]
BASE = [2.0, 3.0, 4.0, 5.0, 1.0]  # |err| 1,1,1,.5,4 -> MAE 1.5; ranks 2,3,4,5,1 -> Spearman 0
TUNED = [h - 0.2 for h in HUMAN]  # MAE 0.2, Spearman 1


def _humans() -> list[dict]:
    return [{"item": f"i{k}", "instruction": h, "aesthetics": h, "geometric": h, "category": "add"}
            for k, h in enumerate(HUMAN)]


def _preds(values: list[float]) -> list[dict]:
    return [{"item": f"i{k}", "instruction": v, "aesthetics": v} for k, v in enumerate(values)]


def test_known_mae_spearman_and_classification() -> None:
    reports = compare(_humans(), {"base": _preds(BASE), "tuned": _preds(TUNED)}, threshold=4.7)
    for axis in ("instruction", "aesthetics"):
        assert reports["base"].axes[axis].mae == pytest.approx(1.5)
        assert reports["base"].axes[axis].spearman == pytest.approx(0.0)
        assert reports["tuned"].axes[axis].mae == pytest.approx(0.2)
        assert reports["tuned"].axes[axis].spearman == pytest.approx(1.0)
    assert reports["tuned"].categories[0].category == "add" and reports["tuned"].categories[0].spearman == pytest.approx(1.0)
    base, tuned = reports["base"].classification, reports["tuned"].classification
    assert (base.tp, base.fp, base.fn, base.tn) == (1, 0, 1, 3) and base.accuracy == pytest.approx(0.8)
    assert (tuned.tp, tuned.fp, tuned.fn, tuned.tn) == (1, 0, 1, 3) and tuned.recall == pytest.approx(0.5)
    # Fig. 9: the tuned judge's error is 0.2 in every bucket that holds an item
    assert [b.mae for b in reports["tuned"].buckets["instruction"] if b.n] == pytest.approx([0.2] * 4)
    fit = next(s for s in judges_side_by_side(reports) if s.title.startswith("Assessor fit"))
    assert fit.columns[0] == "judge" and [r[0] for r in fit.rows] == ["base", "base", "tuned", "tuned"]
    assert fit.rows[0][3:] == ["1.500", "0.000"] and fit.rows[2][3:] == ["0.200", "1.000"]


def test_compare_command_writes_one_page(tmp_path: Path) -> None:
    (tmp_path / "set" / "human").mkdir(parents=True)
    (tmp_path / "set" / "human" / "validation.jsonl").write_bytes(b"".join(orjson.dumps(h) + b"\n" for h in _humans()))
    for name, values in (("base.jsonl", BASE), ("tuned.jsonl", TUNED)):
        (tmp_path / name).write_bytes(b"".join(orjson.dumps(p) + b"\n" for p in _preds(values)))
    page = tmp_path / "page.html"
    res = hilite("tune-judge", "compare", str(tmp_path / "set"), "--base-predictions", str(tmp_path / "base.jsonl"),
                 "--tuned-predictions", str(tmp_path / "tuned.jsonl"), "--threshold", "4.7", "--report", str(page),
                 "--json", str(tmp_path / "c.json"))
    assert res.returncode == 0, res.stderr.decode()
    text = page.read_text()
    for needle in ("Assessor fit (Table 1)", "by category (Table 2)", "Classification at threshold (Table 7",
                   "MAE by human score bucket (Figure 9)", "Precision and recall vs threshold (Figure 11)",
                   "Suggested operating threshold", "base: base.jsonl", "tuned: tuned.jsonl", "1.500", "0.200"):
        assert needle in text
    assert text.count("data:image/png;base64,") == 3  # Fig. 9 (both judges), and one Fig. 11 sweep per judge
    data = orjson.loads((tmp_path / "c.json").read_bytes())
    assert data["tuned: tuned.jsonl"]["axes"]["instruction"]["mae"] == pytest.approx(0.2)
    both = hilite("tune-judge", "compare", str(tmp_path / "set"), "--report", str(page))
    assert both.returncode == 2 and b"--base-judge" in both.stderr
