"""bootstrap: every valid ordered pair of edits of one source, none across sources (NHR 3.6, Figure 2)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from support.loopback import Blocked
from support.scripted_judge import ScriptedJudge, file_sha, run_through, write_block_edit, write_source

from hilite_cli.records import Triplet, stable_id
from hilite_cli.stages.bootstrap import BootstrapStage, concatenate

EDITS = {  # forward instruction -> its inverse
    "Remove the cat.": "Add a grey cat on the sofa.",
    "Remove the lamp.": "Add a red lamp on the table.",
    "Make the sofa blue.": "Make the sofa brown.",
}


def scene(tmp_path: Path, name: str, seed: int, instructions: list[str], *, geometric: list[float] | None = None,
          inverted: list[bool] | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Forward triplets of one source, and the inverses of those marked in `inverted`."""
    source = write_source(tmp_path / f"{name}.png", seed)
    forwards, inverses = [], []
    for i, instruction in enumerate(instructions):
        edited = write_block_edit(source, tmp_path / f"{name}-e{i}.png", (seed, 40 * i, 90))
        fid = stable_id(file_sha(source), instruction, file_sha(edited))
        geo = geometric[i] if geometric else 4.8
        forwards.append({
            "id": fid, "source": source, "instruction": instruction, "edited": edited, "kind": "forward",
            "parents": [f"cand-{name}-{i}"], "scores": {"instruction": geo, "aesthetics": geo, "geometric": geo},
            "t2i_prompt": f"scene {name}",
        })
        if inverted is None or inverted[i]:
            inv_text = EDITS[instruction]
            inverses.append({
                "id": stable_id(file_sha(edited), inv_text, file_sha(source)), "source": edited,
                "instruction": inv_text, "edited": source, "kind": "inverse", "parents": [fid],
            })
    return forwards, inverses


def test_every_ordered_pair_of_one_source_and_none_across_sources(tmp_path: Path) -> None:
    f0, i0 = scene(tmp_path, "s0", 0, list(EDITS))
    f1, i1 = scene(tmp_path, "s1", 1, ["Remove the cat.", "Remove the lamp."], inverted=[True, False])
    inputs = f0 + i0 + f1 + i1
    stage = BootstrapStage()
    out, errors, summary = run_through(stage, inputs + inputs[:2], tmp_path / "run")  # two duplicates
    assert errors == []
    composed = [r for r in out if r["kind"] == "bootstrap"]
    assert sorted(r["id"] for r in out if r["kind"] != "bootstrap") == sorted(r["id"] for r in inputs)

    by_id = {r["id"]: r for r in f0 + f1}
    inverse_of = {r["parents"][0]: r for r in i0 + i1}
    expected = {(a["id"], b["id"]) for a, b in itertools.permutations(f0, 2)} | {(f1[0]["id"], f1[1]["id"])}
    assert {(r["parents"][0], r["parents"][1]) for r in composed} == expected
    for r in composed:
        Triplet.model_validate(r)
        first, second = by_id[r["parents"][0]], by_id[r["parents"][1]]
        assert first["source"] == second["source"]  # never across sources
        assert r["parents"][2] == inverse_of[first["id"]]["id"]
        assert r["source"] == first["edited"] and r["edited"] == second["edited"]
        assert r["instruction"] == concatenate(inverse_of[first["id"]]["instruction"], second["instruction"],
                                               "{a} and {b}")
        assert r["composition"]["parts"] == [inverse_of[first["id"]]["instruction"], second["instruction"]]
        assert r["composition"]["method"] == "concatenation"
        assert r["id"] == stable_id(file_sha(first["edited"]), r["instruction"], file_sha(second["edited"]))
        assert r["scene"]["sha256"] == file_sha(first["source"]) and r["t2i_prompt"] == first["t2i_prompt"]
        assert r["scores"]["geometric"] is None  # composed triplets are not judged here
    example = next(r for r in composed if r["composition"]["parts"][0] == "Add a grey cat on the sofa."
                   and by_id[r["parents"][1]]["instruction"] == "Remove the lamp." and r["parents"][0] in
                   {f["id"] for f in f0})
    assert example["instruction"] == "Add a grey cat on the sofa and remove the lamp."
    assert stage.stats["missing_inverse"] == 1 and stage.stats["sources"] == 2
    assert summary.extra["composed"] == 7 and summary.done == len(inputs) + 7


def test_max_per_source_keeps_the_strongest_pairs_and_only_composed_when_asked(tmp_path: Path) -> None:
    forwards, inverses = scene(tmp_path, "s", 3, list(EDITS), geometric=[4.9, 4.8, 4.75])
    stage = BootstrapStage(max_per_source=2, keep_inputs=False)
    out, _, _ = run_through(stage, forwards + inverses, tmp_path / "run")
    assert all(r["kind"] == "bootstrap" for r in out) and len(out) == 2
    # the two pairs between the 4.9 and 4.8 edits have the strongest weaker side
    assert {frozenset(r["parents"][:2]) for r in out} == {frozenset((forwards[0]["id"], forwards[1]["id"]))}
    assert stage.stats["capped"] == 4


def test_same_edited_image_counts_once_and_single_edits_compose_nothing(tmp_path: Path) -> None:
    forwards, inverses = scene(tmp_path, "s", 4, ["Remove the cat.", "Remove the lamp."])
    alias = {**forwards[0], "id": "alias", "instruction": "Get rid of the cat."}  # same image, other wording
    lonely_f, lonely_i = scene(tmp_path, "lonely", 5, ["Remove the cat."])
    stage = BootstrapStage(keep_inputs=False)
    out, _, _ = run_through(stage, [*forwards, alias, *inverses, *lonely_f, *lonely_i], tmp_path / "run")
    assert len(out) == 2 and all(r["source"] != r["edited"] for r in out)
    assert stage.stats["duplicate_edits"] == 1 and stage.stats["single_edit_sources"] == 1


def test_an_inverse_that_does_not_lead_back_to_the_source_is_not_used(tmp_path: Path) -> None:
    forwards, inverses = scene(tmp_path, "s", 6, ["Remove the cat.", "Remove the lamp."])
    stray = write_source(tmp_path / "stray.png", 99)
    inverses[0] = {**inverses[0], "edited": stray, "id": "stray-inverse"}
    stage = BootstrapStage(keep_inputs=False)
    out, _, _ = run_through(stage, forwards + inverses, tmp_path / "run")
    assert [r["parents"][0] for r in out] == [forwards[1]["id"]]
    assert stage.stats["inverse_mismatch"] == 1


def test_llm_rewrite_and_its_failures(tmp_path: Path, judge: ScriptedJudge, spec: str,
                                      options: dict[str, Any]) -> None:
    forwards, inverses = scene(tmp_path, "s", 7, ["Remove the cat.", "Remove the lamp."])
    judge.merges[("Add a grey cat on the sofa.", "Remove the lamp.")] = "Swap the lamp for a grey cat on the sofa."
    judge.merges[("Add a red lamp on the table.", "Remove the cat.")] = Blocked()
    stage = BootstrapStage(spec, keep_inputs=False, provider_options=options)
    out, errors, _ = run_through(stage, forwards + inverses, tmp_path / "run")
    assert [r["instruction"] for r in out] == ["Swap the lamp for a grey cat on the sofa."]
    assert out[0]["composition"]["method"] == "llm" and out[0]["composition"]["prompt_version"]
    assert f'{out[0]["composition"]["provider"]}:{out[0]["composition"]["model"]}' == spec
    # a failed rewrite is reported, never silently replaced by the concatenation
    assert len(errors) == 1 and errors[0]["instruction"] is None
    assert errors[0]["error"]["kind"] == "rewrite_blocked" and errors[0]["kind"] == "bootstrap"
    assert errors[0]["composition"]["parts"] == ["Add a red lamp on the table.", "Remove the cat."]


def test_non_triplets_are_refused(tmp_path: Path) -> None:
    out, errors, _ = run_through(BootstrapStage(), [{"id": "t", "image": "x.png", "instruction": "a"}], tmp_path)
    assert out == [] and errors[0]["error"]["kind"] == "invalid_record"


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("Add a cat.", "Remove the lamp.", "Add a cat and remove the lamp."),
        ("Add a cat", "TV off, please.", "Add a cat and TV off, please."),
        ("Add a cat.", "I want it blue.", "Add a cat and I want it blue."),
        ("Add a cat... ", "Remove it", "Add a cat and remove it"),
    ],
)
def test_concatenate(first: str, second: str, expected: str) -> None:
    assert concatenate(first, second, "{a} and {b}") == expected


def test_unknown_provider_is_a_usage_error_at_construction() -> None:
    from hilite_cli.providers import ProviderConfigError
    from hilite_cli.stages.invert import InvertStage
    from hilite_cli.stages.validate import ValidateStage

    for build in (lambda: BootstrapStage("claude"), lambda: InvertStage("claude"), lambda: ValidateStage("claude")):
        with pytest.raises(ProviderConfigError, match="unknown provider"):
            build()
