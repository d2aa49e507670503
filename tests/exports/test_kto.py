from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from hilite_cli.exports import kto_rows, write_kto


def test_labels_match_thresholds_and_unscored_are_counted(scored: list[dict[str, Any]]) -> None:
    stats: Counter[str] = Counter()
    rows = list(kto_rows(scored, t_aes=4.7, t_adh=4.7, stats=stats))

    expected = {
        r["id"]: r["scores"]["aesthetics"] >= 4.7 and r["scores"]["instruction"] >= 4.7
        for r in scored
        if r["scores"]["instruction"] is not None and r["scores"]["aesthetics"] is not None
    }
    assert {row["id"]: row["label"] for row in rows} == expected
    assert stats["missing_scores"] == 1
    assert stats["good"] == sum(expected.values()) and stats["bad"] == len(expected) - sum(expected.values())


def test_rows_carry_images_scores_and_provenance(scored: list[dict[str, Any]]) -> None:
    row = next(kto_rows(scored, t_aes=4.0, t_adh=4.0))
    rec = scored[0]
    assert row["source"] == rec["image"] and row["edited"] == rec["output"]
    assert row["instruction"] == rec["instruction"]
    assert row["scores"]["geometric"] == (rec["scores"]["instruction"] * rec["scores"]["aesthetics"]) ** 0.5
    prov = orjson.loads(row["provenance"])
    assert prov["parent"] == rec["parent"]
    assert prov["seed"] == rec["seed"] and prov["model"] == "classic"
    assert prov["judge"]["provider"] == "gemini"


def test_write_kto_uses_config_thresholds_and_skips_failed_records(scored: list[dict[str, Any]], tmp_path: Path) -> None:
    failed = {**scored[0], "id": "broken", "error": {"stage": "validate", "kind": "http_error", "message": "503"}}
    path = tmp_path / "out" / "kto.jsonl"
    summary = write_kto([*scored, failed], path)

    rows = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert summary.written == len(rows) == len(scored) - 1
    assert summary.skipped == Counter({"missing_scores": 1, "upstream_error": 1})
    assert all(row["thresholds"] == {"aesthetics": 4.7, "instruction": 4.7} for row in rows)
    assert summary.counts["good"] == sum(row["label"] for row in rows)
    assert sorted(p.name for p in path.parent.iterdir()) == ["kto.README.md", "kto.jsonl"]  # the file and its card


def test_a_candidate_the_filter_rejected_is_bad_whatever_its_scores(scored: list[dict[str, Any]]) -> None:
    top = {"instruction": 5.0, "aesthetics": 5.0, "geometric": 5.0}
    base = {k: v for k, v in scored[0].items() if k != "passed"}
    records = [
        {**base, "id": "unchecked", "scores": top},
        {**base, "id": "accepted", "scores": top, "passed": True},
        {**base, "id": "rejected", "scores": top, "passed": False, "checks": {"lowlevel": {"passed": False}}},
    ]
    stats: Counter[str] = Counter()
    labels = {row["id"]: row["label"] for row in kto_rows(records, t_aes=4.0, t_adh=4.0, stats=stats)}
    assert labels == {"unchecked": True, "accepted": True, "rejected": False}
    assert stats["good"] == 2 and stats["bad"] == 1
