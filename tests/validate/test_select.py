"""validate --select best (NHR Algorithm 3, lines 5–11) against a scripted loopback judge."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest
from support.loopback import Refusal
from support.scripted_judge import (
    ScriptedJudge,
    candidate,
    file_sha,
    run_through,
    scores,
    write_block_edit,
    write_source,
)

from hilite_cli.records import Scored, Triplet, stable_id
from hilite_cli.stages.validate import ValidateStage

# (source, instruction) -> per candidate: (adherence, aesthetics), or a non-score reply
GROUPS: dict[tuple[str, str], list[Any]] = {
    ("s0", "Remove the cat."): [(4.8, 4.9), (4.9, 4.9), (3.0, 5.0)],  # argmax passing: #1
    ("s0", "Make it winter."): [(4.6, 5.0), (5.0, 4.0)],  # none passes 4.7 on both
    ("s1", "Remove the cat."): [(4.7, 4.7), "refused", (5.0, 5.0)],  # #2 wins; #1 refused
    ("s1", "Add a hat."): ["unparsed", "refused"],  # nothing scorable
}
WINNERS = {("s0", "Remove the cat."): 1, ("s1", "Remove the cat."): 2}


@pytest.fixture
def pool(tmp_path: Path, judge: ScriptedJudge) -> list[dict[str, Any]]:
    """Candidates with real images; the judge's answers scripted per (instruction, edited image)."""
    folder = tmp_path / "images"
    folder.mkdir()
    sources = {name: write_source(folder / f"{name}.png", seed) for seed, name in enumerate(("s0", "s1"))}
    records = []
    for g, ((src, instruction), replies) in enumerate(GROUPS.items()):
        for i, reply in enumerate(replies):
            out = write_block_edit(sources[src], folder / f"e{g}{i}.png", (10 * g, 20 * i, 200))
            rec = candidate(f"c{g}{i}", sources[src], instruction, out, t2i_prompt=f"scene {src}")
            rec["group"], rec["rank"] = (src, instruction), i
            if reply == "refused":
                judge.score(instruction, out, Refusal())
            elif reply == "unparsed":
                judge.score(instruction, out, "Instruction 5/5, aesthetics 4/5")
            else:
                judge.score(instruction, out, scores(*reply))
            records.append(rec)
    return records


def _strip(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in ("group", "rank")} for r in records]


@pytest.mark.parametrize("order_seed", [0, 1])
def test_select_best_keeps_exactly_the_argmax_passing_candidate(pool: list[dict[str, Any]], options: dict[str, Any],
                                                                spec: str, backend: str, tmp_path: Path,
                                                                order_seed: int) -> None:
    records = _strip(pool)
    random.Random(order_seed).shuffle(records)
    stage = ValidateStage(spec, threshold=4.7, select="best", batch_size=3,
                          provider_options=options)
    out, errors, summary = run_through(stage, records, tmp_path / f"run{order_seed}")

    expected = {pool_rec["id"] for pool_rec in pool if WINNERS.get(pool_rec["group"]) == pool_rec["rank"]}
    assert {t["parents"][0] for t in out} == expected
    for triplet in out:
        Triplet.model_validate(triplet)
        cand = next(c for c in pool if c["id"] == triplet["parents"][0])
        assert triplet["kind"] == "forward"
        assert triplet["source"] == cand["image"] and triplet["edited"] == cand["output"]
        assert triplet["instruction"] == cand["instruction"] and triplet["t2i_prompt"] == cand["t2i_prompt"]
        assert triplet["id"] == stable_id(file_sha(cand["image"]), cand["instruction"], file_sha(cand["output"]))
        s = triplet["scores"]
        assert s["geometric"] == pytest.approx(math.sqrt(s["instruction"] * s["aesthetics"]))
        assert f'{triplet["judge"]["provider"]}:{triplet["judge"]["model"]}' == spec
        assert triplet["judge"]["status"] == "ok" and triplet["judge"]["prompt_version"]
        assert triplet["model"] == "classic" and triplet["task"] == cand["parent"]

    # refused / unparsed answers never pass and are reported, typed, with the raw answer kept; Gemini has
    # no refusal field, so a refusal in words is text that is not the JSON asked for: unparsed
    refused = "judge_refused" if backend == "openai" else "judge_unparsed"
    assert sorted(e["error"]["kind"] for e in errors) == sorted([refused, refused, "judge_unparsed"])
    for e in errors:
        assert e["scores"] == {"instruction": None, "aesthetics": None, "geometric": None}
        assert e["passed"] is False and e["judge"]["reason"]
    assert any((e["judge"]["raw"] or "").startswith("Instruction 5/5") for e in errors)
    assert summary.failed == 3 and summary.done == 2
    assert stage.stats["groups"] == 4 and stage.stats["groups_without_pass"] == 2 and stage.stats["selected"] == 2


def test_ties_go_to_the_smaller_candidate_id_whatever_the_order(tmp_path: Path, judge: ScriptedJudge, spec: str,
                                                               options: dict[str, Any]) -> None:
    src = write_source(tmp_path / "s.png", 7)
    outs = [write_block_edit(src, tmp_path / f"t{i}.png", (i, 50, 50)) for i in range(3)]
    for out in outs:
        judge.score("Remove the lamp.", out, scores(4.8, 4.8))
    records = [candidate(cid, src, "Remove the lamp.", out) for cid, out in zip(("b", "a", "c"), outs, strict=True)]
    for order in (records, records[::-1]):
        stage = ValidateStage(spec, select="best", provider_options=options)
        out, _, _ = run_through(stage, order, tmp_path / f"tie{order[0]['id']}")
        assert [t["parents"] for t in out] == [["a"]]


def test_keep_all_emits_every_scored_candidate_with_its_verdict(pool: list[dict[str, Any]], options: dict[str, Any],
                                                               spec: str, tmp_path: Path) -> None:
    stage = ValidateStage(spec, threshold=4.7, keep="all", provider_options=options)
    out, errors, _ = run_through(stage, _strip(pool), tmp_path)
    assert len(out) + len(errors) == len(pool) and len(errors) == 3
    passed = {r["id"] for r in out if r["passed"]}
    assert passed == {"c01", "c00", "c20", "c22"}
    for r in out:
        Scored.model_validate(r)
        assert "output" in r and r["thresholds"] == {"aesthetics": 4.7, "instruction": 4.7}
        assert r["judge"]["status"] == "ok" and r["checks"] == {}


def test_keep_passed_emits_a_triplet_for_every_pass(pool: list[dict[str, Any]], options: dict[str, Any],
                                                   spec: str, tmp_path: Path) -> None:
    stage = ValidateStage(spec, threshold=4.7, keep="passed", provider_options=options)
    out, errors, _ = run_through(stage, _strip(pool), tmp_path)
    assert sorted(t["parents"][0] for t in out) == ["c00", "c01", "c20", "c22"]
    assert all(t["kind"] == "forward" for t in out) and len(errors) == 3


def test_thresholds_one_option_sets_both_and_each_can_override(pool: list[dict[str, Any]], options: dict[str, Any],
                                                             spec: str, tmp_path: Path) -> None:
    stage = ValidateStage(spec, threshold=4.0, t_aes=4.95, keep="passed", provider_options=options)
    out, _, _ = run_through(stage, _strip(pool), tmp_path)
    # aesthetics >= 4.95 and adherence >= 4.0: only (4.6, 5.0) and (5.0, 5.0)
    assert sorted(t["parents"][0] for t in out) == ["c10", "c22"]
    defaults = ValidateStage("gemini").thresholds
    assert (defaults.aesthetics, defaults.instruction) == (4.7, 4.7)


def test_judge_requests_carry_original_then_edited_and_the_instruction(pool: list[dict[str, Any]],
                                                                      options: dict[str, Any], tmp_path: Path,
                                                                      server: Any, spec: str, backend: str) -> None:
    stage = ValidateStage(spec, provider_options=options)
    run_through(stage, _strip(pool[:1]), tmp_path)
    request = server.requests[0]
    assert request.images() == [Path(pool[0]["image"]).read_bytes(), Path(pool[0]["output"]).read_bytes()]
    assert "' Remove the cat. '" in request.text()
    config = request.body["generationConfig"] if backend == "gemini" else request.body
    assert config["temperature"] == 0.0


def test_hilite_candidates_from_several_models_compete_in_one_group(tmp_path: Path, judge: ScriptedJudge, spec: str,
                                                                    options: dict[str, Any]) -> None:
    """HILITE: one task routed to several models; the judge picks the best model's output."""
    src = write_source(tmp_path / "task.png", 11)
    results = {"instruct-pix2pix": (4.8, 4.7), "flux-kontext": (4.9, 5.0), "classic": (5.0, 2.0)}
    records = []
    for i, (model, reply) in enumerate(results.items()):
        out = write_block_edit(src, tmp_path / f"{model}.png", (i, 99, 0))
        judge.score("Turn the sky orange.", out, scores(*reply))
        records.append(candidate(f"task1-{model}", src, "Turn the sky orange.", out, model=model))
    out, _, _ = run_through(ValidateStage(spec, select="best", provider_options=options), records, tmp_path / "run")
    assert [(t["model"], t["parents"]) for t in out] == [("flux-kontext", ["task1-flux-kontext"])]


def test_a_rerun_is_answered_from_the_response_cache(pool: list[dict[str, Any]], options: dict[str, Any], spec: str,
                                                     server: Any, tmp_path: Path) -> None:
    first, first_errors, _ = run_through(ValidateStage(spec, select="best", provider_options=options), _strip(pool),
                                         tmp_path / "first")
    asked = len(server.requests)
    again, again_errors, _ = run_through(ValidateStage(spec, select="best", provider_options=options), _strip(pool),
                                         tmp_path / "again")
    assert len(server.requests) == asked  # refusals and unparsed answers are deterministic: cached too
    assert _uncached(again) == _uncached(first)
    assert [e["error"] for e in again_errors] == [e["error"] for e in first_errors]
    assert all(not r["judge"]["cached"] for r in first) and all(r["judge"]["cached"] for r in again)


def _uncached(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records without the one field a replay changes: the judge block's `cached`."""
    return [{**r, "judge": {k: v for k, v in r["judge"].items() if k != "cached"}} for r in records]
