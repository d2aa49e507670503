"""EditStage end to end with the real classic editor (and a seeded second editor) on real photos."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from hilite_cli.images import load_image
from hilite_cli.models.base import ModelLoadError
from hilite_cli.models.registry import effective_params, get_spec
from hilite_cli.records import Candidate, RecordError, validate_as
from hilite_cli.stages.edit import EditStage, seed_list, slot_letters


def run(stage: EditStage, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    stage.setup()
    try:
        return stage(records)
    finally:
        stage.teardown()


def ok(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if "error" not in r]


def failed(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if "error" in r]


def test_candidates_carry_every_field(tmp_path: Path, photos, noise_editor, loader_cls, make_route) -> None:
    noise = noise_editor()
    out_dir = tmp_path / "out"
    stage = EditStage(out_dir=out_dir, seeds=2, loader=loader_cls(noise))
    record = make_route("r1", photos["astronaut"], "make it sepia", ("classic", 1), ("noise", 2), note="mine")
    cands = run(stage, [record])
    assert not failed(cands) and len(cands) == 3  # classic is deterministic: one candidate for its 2 seeds
    for cand in cands:
        validate_as(Candidate, cand)
        assert cand["parent"] == "r1" and cand["image"] == photos["astronaut"]
        assert cand["instruction"] == "make it sepia" and cand["prompt"] == "make it sepia"
        assert cand["note"] == "mine" and "models" not in cand
        out = Path(cand["output"])
        assert out.is_file() and out_dir.resolve() in out.resolve().parents
        assert load_image(out).size == (64, 64)
    assert sorted(c["slot"] for c in cands) == ["A", "B", "C"]
    assert len({c["id"] for c in cands}) == 3
    assert {(c["model"], c["seed"]) for c in cands} == {("classic", 0), ("noise", 0), ("noise", 1)}
    [classic] = [c for c in cands if c["model"] == "classic"]
    assert "2 attempts asked, 1 candidate made" in classic["params"]["note"]


def test_params_record_the_values_used(tmp_path: Path, photos, noise_editor, loader_cls, make_route) -> None:
    noise = noise_editor()
    requested = {"steps": None, "text_influence": 5, "image_influence": 3}
    stage = EditStage(out_dir=tmp_path, seeds=[3], **requested, loader=loader_cls(noise))
    cands = run(stage, [make_route("r1", photos["chelsea"], "make it sepia", ("classic", 1), ("noise", 2))])
    by_model = {c["model"]: c for c in cands}
    # noise maps steps and text_influence, not image_influence: its default steps, the given level and
    # the native value it lands on (level 5 of 0..8 = 4.0)
    assert by_model["noise"]["params"] == {"steps": 2, "text_influence": 5.0, "image_influence": None,
                                           "native": {"num_inference_steps": 2, "guidance_scale": 4.0}}
    assert noise.calls[0]["params"] == by_model["noise"]["params"]
    classic = by_model["classic"]["params"]
    assert {k: v for k, v in classic.items() if k != "note"} == effective_params(get_spec("classic"), requested)
    assert "same image" in classic["note"]


def test_seeds_of_one_model_run_as_one_call(tmp_path: Path, photos, noise_editor, loader_cls, make_route) -> None:
    noise = noise_editor()
    loader = loader_cls(noise)
    stage = EditStage(out_dir=tmp_path, seeds=4, loader=loader)
    records = [
        make_route("r1", photos["astronaut"], "blur it", ("noise", 1)),
        make_route("r2", photos["chelsea"], "blur it", ("noise", 1)),
    ]
    cands = run(stage, records)
    assert [call["seeds"] for call in noise.calls] == [[0, 1, 2, 3], [0, 1, 2, 3]]
    assert loader.loads == ["noise"]
    outputs = {c["output"] for c in cands if c["parent"] == "r1"}
    assert len(outputs) == 4  # distinct seeds, distinct images


def test_ids_and_images_are_reproducible(tmp_path: Path, photos, noise_editor, loader_cls, make_route) -> None:
    record = make_route("r1", photos["astronaut"], "make it brighter", ("classic", 1), ("noise", 2))
    first = run(EditStage(out_dir=tmp_path / "a", seeds=2, loader=loader_cls(noise_editor())), [record])
    second = run(EditStage(out_dir=tmp_path / "b", seeds=2, loader=loader_cls(noise_editor())), [record])
    assert [(c["id"], c["slot"], Path(c["output"]).name) for c in first] == [
        (c["id"], c["slot"], Path(c["output"]).name) for c in second
    ]


def test_top_k_keeps_the_best_ranked(tmp_path: Path, photos, noise_editor, loader_cls, make_route) -> None:
    loader = loader_cls(noise_editor())
    stage = EditStage(out_dir=tmp_path, top_k=1, loader=loader)
    cands = run(stage, [make_route("r1", photos["astronaut"], "make it sepia", ("noise", 2), ("classic", 1))])
    assert [c["model"] for c in cands] == ["classic"]
    assert loader.loads == ["classic"]


def test_slots_shuffle_reproducibly_and_no_shuffle_keeps_order(
    tmp_path: Path, photos, noise_editor, loader_cls, make_route
) -> None:
    records = [
        make_route(f"r{i}", photos["chelsea"], "make it warmer", ("classic", 1), ("noise", 2)) for i in range(6)
    ]

    def slots(shuffle: bool) -> list[list[tuple[str, int, str]]]:
        stage = EditStage(out_dir=tmp_path, seeds=2, shuffle=shuffle, loader=loader_cls(noise_editor()))
        cands = run(stage, records)
        return [[(c["model"], c["seed"], c["slot"]) for c in cands if c["parent"] == r["id"]] for r in records]

    plain = slots(False)
    in_order = [("classic", 0, "A"), ("noise", 0, "B"), ("noise", 1, "C")]
    assert all(sorted(group, key=lambda x: x[2]) == in_order for group in plain)
    shuffled = slots(True)
    assert shuffled == slots(True)
    assert all(sorted(s for *_, s in group) == ["A", "B", "C"] for group in shuffled)
    assert any(sorted(g, key=lambda x: x[2]) != sorted(p, key=lambda x: x[2]) for g, p in zip(shuffled, plain))
    # the manifest lists candidates by slot, so its order does not reveal which model is which
    assert all([s for *_, s in group] == ["A", "B", "C"] for group in shuffled)


def test_unsupported_instruction_fails_only_that_model(
    tmp_path: Path, photos, noise_editor, loader_cls, make_route
) -> None:
    stage = EditStage(out_dir=tmp_path, seeds=2, loader=loader_cls(noise_editor()))
    out = run(stage, [make_route("r1", photos["astronaut"], "make it winter", ("classic", 1), ("noise", 2))])
    (error,) = failed(out)
    assert error["model"] == "classic" and error["id"] == "r1"
    assert error["error"]["stage"] == "edit" and error["error"]["kind"] == "unsupported_instruction"
    slots = [c["slot"] for c in ok(out)]
    assert [c["model"] for c in ok(out)] == ["noise", "noise"] and len(set(slots)) == 2 and set(slots) <= set("ABCD")


def test_load_failure_is_remembered(tmp_path: Path, photos, noise_editor, loader_cls, make_route) -> None:
    missing = ModelLoadError("no weights for timbrooks/instruct-pix2pix", "weights_missing")
    loader = loader_cls(noise_editor(), broken={"instruct-pix2pix": missing})
    stage = EditStage(out_dir=tmp_path, loader=loader)
    records = [
        make_route(f"r{i}", photos["chelsea"], "blur it", ("instruct-pix2pix", 1), ("noise", 2)) for i in range(2)
    ]
    out = run(stage, records)
    assert [e["error"]["kind"] for e in failed(out)] == ["weights_missing", "weights_missing"]
    assert len(ok(out)) == 2
    assert loader.loads.count("instruct-pix2pix") == 1


def test_task_records_use_the_models_option(tmp_path: Path, photos, noise_editor, loader_cls) -> None:
    task = {"id": "t1", "image": photos["astronaut"], "instruction": "make it black and white"}
    stage = EditStage(out_dir=tmp_path, models=["classic", "noise"], loader=loader_cls(noise_editor()))
    assert sorted(c["model"] for c in run(stage, [task])) == ["classic", "noise"]
    with pytest.raises(RecordError) as err:
        run(EditStage(out_dir=tmp_path, loader=loader_cls()), [task])
    assert err.value.kind == "no_models"


def test_mask_reaches_the_editor(tmp_path: Path, photos, mask_path, loader_cls) -> None:
    task = {"id": "t1", "image": photos["chelsea"], "instruction": "remove the cat's ear", "mask": mask_path}
    (cand,) = run(EditStage(out_dir=tmp_path, models=["classic"], loader=loader_cls()), [task])
    src = np.asarray(load_image(photos["chelsea"])).astype(int)
    edited = np.asarray(load_image(cand["output"])).astype(int)
    inside = np.asarray(Image.open(mask_path)) > 127
    changed = (src != edited).any(axis=2)
    assert changed[inside].any() and not changed[~inside].any()
    assert cand["mask"] == mask_path


def test_missing_inputs_and_prompts_are_errors(tmp_path: Path, photos, noise_editor, loader_cls, make_route) -> None:
    needs_mask = noise_editor("inpaint", needs=["mask"])
    target = noise_editor("describe", prompt_style="target")
    stage = EditStage(out_dir=tmp_path, loader=loader_cls(needs_mask, target))
    out = run(stage, [make_route("r1", photos["chelsea"], "blur it", ("inpaint", 1), ("describe", 2), ("classic", 3))])
    errors = {e["model"]: e["error"] for e in failed(out)}
    assert {m: e["kind"] for m, e in errors.items()} == {"inpaint": "missing_input", "describe": "missing_input"}
    assert "`mask`" in errors["inpaint"]["message"]
    assert "description of the result" in errors["describe"]["message"]
    assert [c["model"] for c in ok(out)] == ["classic"]
    assert not needs_mask.calls and not target.calls


def test_a_text_to_image_model_is_refused(tmp_path: Path, photos, noise_editor, loader_cls, make_route) -> None:
    class TextToImageOnly:
        spec = get_spec("flux-schnell")

        def generate(self, prompt: str, **kwargs: Any) -> list[Image.Image]:
            raise AssertionError("edit must not call a T2I model")

    loader = loader_cls()
    loader.editors["flux-schnell"] = TextToImageOnly()
    record = make_route("r1", photos["chelsea"], "blur it", ("flux-schnell", 1))
    out = run(EditStage(out_dir=tmp_path, loader=loader), [record])
    assert [e["error"]["kind"] for e in out] == ["wrong_model_kind"]


def test_default_loader_serves_classic(tmp_path: Path, photos) -> None:
    task = {"id": "t1", "image": photos["astronaut"], "instruction": "invert the colours"}
    (cand,) = run(EditStage(out_dir=tmp_path, models=["classic"]), [task])
    src = np.asarray(load_image(photos["astronaut"])).astype(int)
    np.testing.assert_array_equal(np.asarray(load_image(cand["output"])), 255 - src)


def test_helpers() -> None:
    assert slot_letters(3) == ["A", "B", "C"]
    assert slot_letters(28)[25:] == ["Z", "AA", "AB"]
    assert seed_list(3) == [0, 1, 2] and seed_list([7, 3]) == [7, 3]
    with pytest.raises(ValueError):
        seed_list(0)


def test_two_tasks_with_the_same_image_and_instruction_keep_their_own_candidates(
    tmp_path: Path, photos, noise_editor, loader_cls, make_route
) -> None:
    """A candidate's id includes its task's id: distinct tasks are never merged as duplicates."""
    stage = EditStage(out_dir=tmp_path, seeds=2, loader=loader_cls(noise_editor()))
    first = make_route("t1", photos["chelsea"], "blur it", ("noise", 1), owner="ann")
    second = make_route("t2", photos["chelsea"], "blur it", ("noise", 1), owner="bob")
    cands = run(stage, [first, second])
    assert len(cands) == 4 and len({c["id"] for c in cands}) == 4
    assert {(c["parent"], c["owner"]) for c in cands} == {("t1", "ann"), ("t2", "bob")}
    again = run(EditStage(out_dir=tmp_path, seeds=2, loader=loader_cls(noise_editor())), [first])
    assert sorted(c["id"] for c in again) == sorted(c["id"] for c in cands if c["parent"] == "t1")  # still stable


def test_a_native_param_reaches_the_editor_and_is_recorded_with_its_level(
    tmp_path: Path, photos, noise_editor, loader_cls, make_route
) -> None:
    noise = noise_editor()
    stage = EditStage(out_dir=tmp_path, seeds=[1], native={"noise": {"guidance_scale": 6.0}}, loader=loader_cls(noise))
    [cand] = run(stage, [make_route("r1", photos["chelsea"], "blur it", ("noise", 1))])
    assert cand["params"]["native"]["guidance_scale"] == 6.0 and cand["params"]["text_influence"] == 7.5
    assert noise.calls[0]["params"]["native"]["guidance_scale"] == 6.0


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"text_influence": 11}, "level from 0 to 10"),
        ({"image_influence": -1}, "level from 0 to 10"),
        ({"models": ["instruct-pix2pix"], "native": {"instruct-pix2pix": {"image_guidance_scale": 5.0}}}, "outside its range"),
        ({"native": {"no-such-model": {"guidance_scale": 1.0}}}, "unknown model"),
        ({"models": ["classic"], "native": {"classic": {"guidance_scale": 1.0}}}, "no native parameter guidance_scale"),
    ],
)
def test_out_of_range_knobs_are_refused_before_any_record(tmp_path: Path, options: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        EditStage(out_dir=tmp_path, **options)


def test_one_off_slots_are_letters_over_the_candidates_that_exist(tmp_path: Path, photos, noise_editor, loader_cls,
                                                                   make_route) -> None:
    """A manifest keeps a failed model's letters free for its retry; the one-off form (dense_slots), where a
    person picks, deals the letters over the candidates that exist, so `--pick B` is never met by a gap."""
    broken = {"noise": RecordError("model_unavailable", "no weights")}
    record = make_route("r1", photos["astronaut"], "make it sepia", ("noise", 1), ("classic", 2))

    def slots(dense: bool) -> list[str]:
        stage = EditStage(out_dir=tmp_path / str(dense), seeds=2, shuffle=False, loader=loader_cls(broken=broken))
        stage.dense_slots = dense
        return [c["slot"] for c in ok(run(stage, [record]))]

    assert slots(False) == ["C"]  # noise's two planned attempts keep A and B
    assert slots(True) == ["A"]
