"""`hilite debias` as a user runs it: ratings in, de-biased items out, calibration report written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson

from support.cli import hilite


def _ratings(tmp_path: Path) -> tuple[Path, dict[str, float]]:
    rng = np.random.default_rng(0)
    truth = {f"i{k}": float(rng.uniform(1.5, 4.5)) for k in range(12)}
    offsets = {"r0": 0.5, "r1": -0.3, "r2": 0.1}
    rows = [{"item": i, "rater": r, "instruction": s + o, "aesthetics": s + o / 2, "category": "remove" if k % 2 else "add"}
            for k, (i, s) in enumerate(truth.items()) for r, o in offsets.items()]
    path = tmp_path / "ratings.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n{oops\n")
    return path, truth


def test_debias_cli_recovers_truth_and_reports(tmp_path: Path) -> None:
    ratings, truth = _ratings(tmp_path)
    res = hilite("debias", str(ratings), "-o", str(tmp_path / "items.jsonl"), "--json", str(tmp_path / "s.json"),
                 "--report", str(tmp_path / "r.md"))
    assert res.returncode == 1, res.stderr  # the malformed last line is reported
    assert b"line 37" in res.stderr
    items = {r["item"]: r for r in map(orjson.loads, (tmp_path / "items.jsonl").read_bytes().splitlines())}
    offset_mean = (0.5 - 0.3 + 0.1) / 3
    for item, score in truth.items():
        assert abs(items[item]["instruction"] - (score + offset_mean)) < 1e-9
    summary = orjson.loads((tmp_path / "s.json").read_bytes())
    biases = {r["rater"]: r["bias"]["instruction"] for r in summary["raters"]}
    assert abs(biases["r0"] - (0.5 - offset_mean)) < 1e-9
    assert "Krippendorff" in (tmp_path / "r.md").read_text() or "alpha" in (tmp_path / "r.md").read_text()


def test_debias_cli_calibration_plot(tmp_path: Path) -> None:
    ratings, truth = _ratings(tmp_path)
    lines = ratings.read_bytes().splitlines()[:-1]
    ratings.write_bytes(b"\n".join(lines) + b"\n")
    preds = tmp_path / "pred.jsonl"
    preds.write_bytes(b"\n".join(orjson.dumps({"id": i, "scores": {"instruction": s, "aesthetics": s}}) for i, s in truth.items()))
    res = hilite("debias", str(ratings), "--predictions", str(preds), "--item-field", "id",
                 "--plot", str(tmp_path / "sweep.png"), "--json", str(tmp_path / "s.json"), "-o", str(tmp_path / "i.jsonl"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    cal = orjson.loads((tmp_path / "s.json").read_bytes())["calibration"]
    assert cal is not None


def test_debias_html_report_embeds_the_sweep_and_defines_columns(tmp_path: Path) -> None:
    import base64
    import re

    ratings, truth = _ratings(tmp_path)
    preds = tmp_path / "pred.jsonl"
    preds.write_bytes(b"\n".join(orjson.dumps({"item": i, "instruction": s, "aesthetics": s}) for i, s in truth.items()))
    res = hilite("debias", str(ratings), "--predictions", str(preds), "--report", str(tmp_path / "r.html"),
                 "--no-progress", "-o", str(tmp_path / "i.jsonl"))
    assert res.returncode == 1, res.stderr  # the malformed last line
    text = (tmp_path / "r.html").read_text()
    (png,) = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", text)
    assert base64.b64decode(png).startswith(b"\x89PNG")
    assert "Rater biases (eq. 1)" in text and "<dt>Krippendorff α (interval)</dt>" in text
