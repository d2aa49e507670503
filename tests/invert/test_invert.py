"""invert: A.6 inversions through a scripted loopback LLM, the banned-word retry, and the backward check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.loopback import Refusal
from support.scripted_judge import (
    RETRY_MARK,
    ScriptedJudge,
    file_sha,
    run_through,
    scores,
    write_block_edit,
    write_source,
)

from hilite_cli.prompts import prompt_version, render_prompt
from hilite_cli.records import Triplet, stable_id
from hilite_cli.stages.invert import InvertStage, clean_instruction

SCENE = "A living room: a grey cat on the sofa, a red lamp and a green plant."


def forward(tmp_path: Path, name: str, instruction: str, colour: tuple[int, int, int], *, seed: int = 0,
            **extra: Any) -> dict[str, Any]:
    """A forward triplet as validate emits it (without the sha256 block, so invert must hash the files)."""
    src = tmp_path / f"src{seed}.png"
    source = str(src.resolve()) if src.exists() else write_source(src, seed)
    edited = write_block_edit(source, tmp_path / f"{name}.png", colour)
    return {
        "id": name, "source": source, "instruction": instruction, "edited": edited, "kind": "forward",
        "parents": [f"cand-{name}"], "scores": {"instruction": 5.0, "aesthetics": 5.0, "geometric": 5.0},
        "judge": {"provider": "gemini", "model": "m", "status": "ok"}, "model": "classic", "seed": 3,
        "user_tag": name, **extra,
    }


def test_inverse_swaps_images_and_keeps_provenance(tmp_path: Path, judge: ScriptedJudge, spec: str,
                                                   options: dict[str, Any], server: Any) -> None:
    fwd = forward(tmp_path, "f1", "Remove the cat.", (200, 0, 0), t2i_prompt=SCENE)
    judge.inversions["Remove the cat."] = ("Add a grey cat on the sofa.",)

    out, errors, summary = run_through(InvertStage(spec, provider_options=options), [fwd], tmp_path / "run")
    assert errors == [] and [r["kind"] for r in out] == ["forward", "inverse"]
    assert out[0]["id"] == "f1"
    inverse = out[1]
    Triplet.model_validate(inverse)
    assert inverse["source"] == fwd["edited"] and inverse["edited"] == fwd["source"]
    assert inverse["instruction"] == "Add a grey cat on the sofa."
    assert inverse["parents"] == ["f1"] and inverse["forward_instruction"] == "Remove the cat."
    assert inverse["id"] == stable_id(file_sha(fwd["edited"]), inverse["instruction"], file_sha(fwd["source"]))
    assert inverse["sha256"] == {"source": file_sha(fwd["edited"]), "edited": file_sha(fwd["source"])}
    assert inverse["scores"] == {"instruction": None, "aesthetics": None, "geometric": None}
    assert inverse["t2i_prompt"] == SCENE and inverse["user_tag"] == "f1" and "judge" not in inverse
    inv = inverse["inversion"]
    assert inv["prompt_version"] == prompt_version("a6_inverse") and inv["description"] == "t2i_prompt"
    assert inv["attempts"] == 1 and inv["rejected"] == [] and f'{inv["provider"]}:{inv["model"]}' == spec
    # A.6 verbatim, with the T2I prompt as the original description
    assert server.requests[0].text() == render_prompt("a6_inverse", description=SCENE, instruction="Remove the cat.")
    assert server.requests[0].images() == []
    assert summary.extra["inverted"] == 1


def test_banned_words_are_refused_and_asked_once_more(tmp_path: Path, judge: ScriptedJudge, spec: str,
                                                      options: dict[str, Any], server: Any) -> None:
    records = [
        forward(tmp_path, "retry", "Remove the cat.", (1, 0, 0), t2i_prompt=SCENE),
        forward(tmp_path, "twice", "Remove the lamp.", (2, 0, 0), t2i_prompt=SCENE),
        forward(tmp_path, "fine", "Remove the plant.", (3, 0, 0), t2i_prompt=SCENE),
    ]
    judge.inversions["Remove the cat."] = ("Put the cat BACK on the sofa.", "Add a grey cat on the sofa.")
    judge.inversions["Remove the lamp."] = ("Undo the lamp removal.", '"Restore the red lamp."')
    judge.inversions["Remove the plant."] = ("Add a green plant in the background.",)  # "background" is fine

    stage = InvertStage(spec, provider_options=options)
    out, errors, _ = run_through(stage, records, tmp_path / "run")
    inverses = {r["parents"][0]: r for r in out if r["kind"] == "inverse"}
    assert inverses["retry"]["instruction"] == "Add a grey cat on the sofa."
    assert inverses["retry"]["inversion"]["attempts"] == 2
    assert inverses["retry"]["inversion"]["rejected"] == ["Put the cat BACK on the sofa."]
    assert inverses["fine"]["inversion"]["attempts"] == 1
    assert "twice" not in inverses
    assert [(e["id"], e["error"]["kind"]) for e in errors] == [("twice", "inversion_refused")]
    assert "Undo the lamp removal." in errors[0]["error"]["message"]
    # every forward still passes through: a failed inversion does not unmake a validated edit
    assert sorted(r["id"] for r in out if r["kind"] == "forward") == ["fine", "retry", "twice"]
    # the retry is a different request (so no cache can hand back the refused answer)
    retries = [r.text() for r in server.requests if RETRY_MARK in r.text()]
    assert len(retries) == 2 and judge.count("a6") == 3 and stage.stats["retried"] == 2
    assert stage.stats["inversion_refused"] == 1


def test_offline_inverter_uses_explicit_rules_and_refuses_the_rest(tmp_path: Path) -> None:
    cat = forward(tmp_path, "f1", "Remove the cat.", (200, 0, 0))
    warm = forward(tmp_path, "f2", "Make it warmer", (0, 200, 0), seed=1)
    gray = forward(tmp_path, "f3", "make it black and white", (0, 0, 200), seed=2)
    out, errors, _ = run_through(InvertStage("offline", forward=False), [cat, warm, gray], tmp_path / "run")
    assert [(r["parents"], r["instruction"]) for r in out] == [
        (["f2"], "Make the colours cooler."), (["f3"], "Give the image full, natural colour.")]
    assert all(r["inversion"]["provider"] == "offline" and r["inversion"]["model"] == "rules" for r in out)
    assert out[0]["source"] == warm["edited"] and out[0]["edited"] == warm["source"]
    assert [(e["id"], e["error"]["kind"]) for e in errors] == [("f1", "invert_no_rule")]
    assert "--llm" in errors[0]["error"]["message"]


def test_description_falls_back_to_caption_then_empty(tmp_path: Path, judge: ScriptedJudge, spec: str,
                                                      options: dict[str, Any], server: Any) -> None:
    captioned = forward(tmp_path, "c", "Remove the cat.", (5, 0, 0), caption="a cat on a sofa")
    bare = forward(tmp_path, "b", "Remove the lamp.", (6, 0, 0))
    judge.inversions["Remove the cat."] = ("Add a cat on the sofa.",)
    judge.inversions["Remove the lamp."] = ("Add a lamp.",)
    out, _, _ = run_through(InvertStage(spec, forward=False, provider_options=options), [captioned, bare], tmp_path)
    assert {r["parents"][0]: r["inversion"]["description"] for r in out} == {"c": "caption", "b": "none"}
    texts = sorted(r.text() for r in server.requests)
    assert any('Original description: "a cat on a sofa"' in t for t in texts)
    assert any('Original description: ""' in t for t in texts)


def test_scored_candidates_are_accepted_and_only_passed_ones_inverted(tmp_path: Path, judge: ScriptedJudge,
                                                                       spec: str, options: dict[str, Any]) -> None:
    src = write_source(tmp_path / "s.png", 9)
    edits = [write_block_edit(src, tmp_path / f"e{i}.png", (i, 9, 9)) for i in range(2)]
    judge.inversions["Remove the cat."] = ("Add a cat.",)
    scored = [
        {"id": f"c{i}", "parent": "task", "image": src, "instruction": "Remove the cat.", "model": "m",
         "output": edits[i], "scores": {"instruction": 5.0, "aesthetics": 5.0, "geometric": 5.0},
         "judge": {"provider": "gemini", "status": "ok"}, "passed": i == 0,
         "thresholds": {"aesthetics": 4.7, "instruction": 4.7}}
        for i in range(2)
    ]
    # a mine candidate passed only the soft pre-filter: it must go through validate first
    prefiltered = {**scored[0], "id": "mined"}
    del prefiltered["thresholds"]
    scored.append(prefiltered)
    stage = InvertStage(spec, provider_options=options)
    out, errors, _ = run_through(stage, scored, tmp_path / "run")
    assert [(e["id"], e["error"]["kind"]) for e in errors] == [("mined", "invalid_record")]
    assert "through validate first" in errors[0]["error"]["message"]
    assert [r["kind"] for r in out] == ["forward", "inverse"]
    assert out[0]["parents"] == ["c0"] and out[1]["parents"] == [out[0]["id"]]
    assert stage.stats["not_passed_candidates"] == 1


def test_backward_check_drops_both_twins_below_threshold(tmp_path: Path, judge: ScriptedJudge, spec: str,
                                                         options: dict[str, Any], server: Any,
                                                         backend: str) -> None:
    records = [
        forward(tmp_path, "good", "Remove the cat.", (10, 0, 0), t2i_prompt=SCENE),
        forward(tmp_path, "low", "Remove the dog.", (20, 0, 0), t2i_prompt=SCENE),  # scene had no dog
        forward(tmp_path, "refused", "Remove the lamp.", (30, 0, 0), t2i_prompt=SCENE),
        forward(tmp_path, "edge", "Remove the plant.", (40, 0, 0), t2i_prompt=SCENE),
    ]
    source = records[0]["source"]
    replies = {"Remove the cat.": "Add a grey cat on the sofa.", "Remove the dog.": "Add a dog on the rug.",
               "Remove the lamp.": "Add a red lamp.", "Remove the plant.": "Add a green plant."}
    for fwd_instruction, inverse in replies.items():
        judge.inversions[fwd_instruction] = (inverse,)
    judge.score("Add a grey cat on the sofa.", source, scores(4.9, 4.8))
    judge.score("Add a dog on the rug.", source, scores(2.0, 4.9))
    judge.score("Add a red lamp.", source, Refusal())
    judge.score("Add a green plant.", source, scores(4.5, 4.5))  # exactly the thresholds below: kept

    stage = InvertStage(spec, backward_check=True, judge=spec, t_inv_aes=4.5, t_inv_adh=4.5, provider_options=options)
    out, errors, summary = run_through(stage, records, tmp_path / "run")
    assert sorted((r["kind"], r.get("user_tag")) for r in out) == [
        ("forward", "edge"), ("forward", "good"), ("inverse", "edge"), ("inverse", "good")]
    good = next(r for r in out if r["kind"] == "inverse" and r["user_tag"] == "good")
    assert good["scores"]["instruction"] == 4.9 and good["judge"]["status"] == "ok"
    assert good["thresholds"] == {"aesthetics": 4.5, "instruction": 4.5}
    # the unscorable inverse is reported; its pair is gone from the output
    assert [e["error"]["kind"] for e in errors] == ["judge_refused" if backend == "openai" else "judge_unparsed"]
    assert errors[0]["kind"] == "inverse" and errors[0]["parents"] == ["refused"]
    assert summary.extra["backward_removed_pairs"] == 2
    # the backward question: original = the forward's edited image, edited = the forward's source
    a2 = next(r for r in server.requests if "' Add a grey cat on the sofa. '" in r.text())
    assert a2.images() == [Path(records[0]["edited"]).read_bytes(), Path(source).read_bytes()]


def test_backward_check_needs_forwards_and_a_real_judge(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="forward"):
        InvertStage("offline", forward=False, backward_check=True)
    with pytest.raises(ValueError, match="offline provider"):
        InvertStage("offline", backward_check=True, judge="offline")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Add a cat.", "Add a cat."),
        ('  "Add a cat on the sofa."\n', "Add a cat on the sofa."),
        ("Inverse: “Place a red apple at the center.”", "Place a red apple at the center."),
        ("Add a cat.\nAlternatively: add two cats.", None),
        ("  ", None),
    ],
)
def test_clean_instruction(reply: str, expected: str | None) -> None:
    assert clean_instruction(reply) == expected


def test_missing_image_and_non_triplet_fail_alone(tmp_path: Path, judge: ScriptedJudge, spec: str,
                                                  options: dict[str, Any]) -> None:
    good = forward(tmp_path, "good", "Remove the cat.", (1, 1, 1))
    gone = {**forward(tmp_path, "gone", "Remove the cat.", (2, 2, 2)), "edited": str(tmp_path / "deleted.png")}
    judge.inversions["Remove the cat."] = ("Add a cat.",)
    records = [good, gone, {"id": "task", "image": good["source"], "instruction": "Remove the cat."}]
    out, errors, _ = run_through(InvertStage(spec, provider_options=options), records, tmp_path / "run")
    assert [r["kind"] for r in out] == ["forward", "inverse"]
    assert {e["id"]: e["error"]["kind"] for e in errors} == {"gone": "bad_image", "task": "invalid_record"}
