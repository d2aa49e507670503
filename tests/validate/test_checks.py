"""validate's extra checks (low-level, A.3 unwanted, A.4 aesthetic), the offline judge, and bad inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from support.scripted_judge import (
    ScriptedJudge,
    candidate,
    file_sha,
    run_through,
    scores,
    write_block_edit,
    write_source,
    write_speckle_edit,
)

from hilite_cli.stages.validate import ValidateStage, parse_checks

INSTRUCTION = "Remove the vase."


def test_checks_decide_with_the_scores_and_are_asked_only_when_scores_pass(
    tmp_path: Path, judge: ScriptedJudge, spec: str, options: dict[str, Any]
) -> None:
    src = write_source(tmp_path / "s.png", 1)
    edits = {
        "ok": write_block_edit(src, tmp_path / "ok.png", (250, 0, 0)),
        "speckled": write_speckle_edit(src, tmp_path / "speckled.png"),
        "unwanted": write_block_edit(src, tmp_path / "unwanted.png", (0, 250, 0)),
        "low": write_block_edit(src, tmp_path / "low.png", (0, 0, 250)),
        "vague": write_block_edit(src, tmp_path / "vague.png", (250, 250, 0)),
    }
    for name, path in edits.items():
        judge.score(INSTRUCTION, path, scores(2.0, 2.0) if name == "low" else scores(4.9, 4.9))
        judge.unwanted[file_sha(path)] = "no" if name == "unwanted" else "yes"
        judge.aesthetic[file_sha(path)] = "It is quite nice, I suppose." if name == "vague" else "Yes."
    records = [candidate(name, src, INSTRUCTION, path) for name, path in edits.items()]

    stage = ValidateStage(spec, checks="lowlevel,unwanted,aesthetic", provider_options=options)
    out, errors, _ = run_through(stage, records, tmp_path / "run")
    by_id = {r["id"]: r for r in out}

    assert {r["id"]: r["passed"] for r in out} == {"ok": True, "speckled": False, "unwanted": False, "low": False}
    assert by_id["speckled"]["checks"]["lowlevel"]["reason"] == "fragmented"
    assert by_id["ok"]["checks"]["lowlevel"]["passed"] is True
    assert by_id["unwanted"]["checks"]["unwanted"]["passed"] is False
    assert by_id["unwanted"]["checks"]["unwanted"]["prompt_version"]
    assert by_id["low"]["checks"]["unwanted"]["status"] == "skipped"
    assert by_id["low"]["checks"]["lowlevel"]["passed"] is True  # the pixel check runs on every candidate
    # an answer that is neither yes nor no is a typed failure, never a pass
    assert [(e["id"], e["error"]["kind"]) for e in errors] == [("vague", "judge_unparsed")]
    assert errors[0]["checks"]["aesthetic"]["raw"] == "It is quite nice, I suppose."
    assert judge.count("a3") == 4 and judge.count("a4") == 4  # not asked for the low-scoring edit


def test_offline_judge_passes_on_pixel_checks_alone_and_invents_no_score(tmp_path: Path) -> None:
    src = write_source(tmp_path / "s.png", 2)
    good = write_block_edit(src, tmp_path / "good.png", (1, 2, 3))
    speckled = write_speckle_edit(src, tmp_path / "speckled.png")
    records = [candidate("good", src, INSTRUCTION, good), candidate("speckled", src, INSTRUCTION, speckled)]

    stage = ValidateStage("offline", provider_options={"base_url": "http://127.0.0.1:9"})
    out, errors, _ = run_through(stage, records, tmp_path / "run")
    assert errors == []
    for record in out:
        assert record["scores"] == {"instruction": None, "aesthetics": None, "geometric": None}
        assert record["judge"]["status"] == "unavailable" and "offline" in record["judge"]["reason"]
        assert "pixel-level check only" in record["passed_on"]
    assert {r["id"]: r["checks"]["lowlevel"]["passed"] for r in out} == {"good": True, "speckled": False}
    assert {r["id"]: r["passed"] for r in out} == {"good": True, "speckled": False}

    best = ValidateStage("offline", select="best")
    chosen, errors, _ = run_through(best, records, tmp_path / "best")
    assert errors == [] and [c["parents"] for c in chosen] == [["good"]]
    assert chosen[0]["scores"]["geometric"] is None and "no semantic scores" in chosen[0]["selection"]
    assert best.stats["groups_without_pass"] == 0

    with pytest.raises(ValueError, match="only the pixel-level check"):
        ValidateStage("offline", checks="lowlevel,unwanted").setup()


def test_lowlevel_refuses_to_compare_different_sizes(tmp_path: Path) -> None:
    src = write_source(tmp_path / "s.png", 3)
    resized = tmp_path / "resized.png"
    Image.open(src).resize((16, 16)).save(resized)
    out, _, _ = run_through(ValidateStage("offline"), [candidate("r", src, INSTRUCTION, str(resized))], tmp_path)
    assert out[0]["checks"]["lowlevel"]["passed"] is False
    assert out[0]["checks"]["lowlevel"]["reason"] == "size_mismatch"


def test_bad_records_fail_alone(tmp_path: Path, judge: ScriptedJudge, spec: str, options: dict[str, Any]) -> None:
    src = write_source(tmp_path / "s.png", 4)
    good = write_block_edit(src, tmp_path / "good.png", (9, 9, 9))
    judge.score(INSTRUCTION, good, scores(5, 5))
    records = [
        candidate("good", src, INSTRUCTION, good),
        {"id": "no-output", "image": src, "instruction": INSTRUCTION, "model": "m"},
        candidate("missing", src, INSTRUCTION, str(tmp_path / "nowhere.png")),
    ]
    out, errors, _ = run_through(ValidateStage(spec, provider_options=options), records, tmp_path / "run")
    assert [r["id"] for r in out] == ["good"] and out[0]["passed"] is True
    assert {e["id"]: e["error"]["kind"] for e in errors} == {"no-output": "invalid_record", "missing": "bad_image"}


def test_option_checking() -> None:
    assert parse_checks("lowlevel, unwanted") == ("lowlevel", "unwanted")
    assert parse_checks(None) is None
    with pytest.raises(ValueError, match="subset of lowlevel, unwanted, aesthetic"):
        parse_checks("lowlevel,clip")
    with pytest.raises(ValueError, match="`select`"):
        ValidateStage("offline", select="first")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`keep`"):
        ValidateStage("offline", keep="some")  # type: ignore[arg-type]


def test_an_earlier_judgement_is_kept_under_prior(tmp_path: Path) -> None:
    """mine's candidates arrive with the soft pre-filter's verdict; validate's own replaces it, visibly."""
    src = write_source(tmp_path / "s.png", 5)
    out_path = write_block_edit(src, tmp_path / "e.png", (7, 7, 7))
    mined = candidate("m", src, INSTRUCTION, out_path, passed=True, scores={"instruction": 5.0, "aesthetics": 5.0},
                      judge={"provider": "openai", "model": "qwen", "status": "ok"}, checks={"unwanted": {"passed": True}})
    out, _, _ = run_through(ValidateStage("offline"), [mined], tmp_path)
    assert out[0]["judge"]["status"] == "unavailable" and out[0]["scores"]["instruction"] is None
    assert out[0]["prior"] == {"passed": True, "scores": mined["scores"], "judge": mined["judge"],
                               "checks": mined["checks"]}
