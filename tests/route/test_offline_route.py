"""The default offline router: rule-based, honest, and faithful to the registry's needs and prompt styles."""

from __future__ import annotations

import pytest

from hilite_cli.config import config_dir, load_config
from hilite_cli.providers.schemas import INTENTS
from hilite_cli.records import RecordError, Route
from hilite_cli.stages.route import RouteStage, load_routing
from hilite_cli.stages.route_rules import detect_intent


def run(records: list[dict], **options: object) -> list[dict]:
    stage = RouteStage(**options)
    stage.setup()
    try:
        return stage(records)
    finally:
        stage.teardown()


@pytest.mark.parametrize(
    ("instruction", "intent"),
    [
        ("remove the red car on the left", "object_removal"),
        ("Replace the cat with a Siamese cat", "object_swap"),
        ("make it look like a Van Gogh painting", "style_change"),
        ("make the sky stormy", "general_editing"),
        ("add a straw hat to the man", "object_insertion"),
        ("make the car red", "object_modification"),
        ("make it better", "general_editing"),
    ],
)
def test_intent_rules(instruction: str, intent: str) -> None:
    assert detect_intent(instruction, load_config("routing")["rules"]) == intent


def test_routing_table_matches_the_registry() -> None:
    routing = load_routing(load_config("models")["models"])
    assert set(routing["ranking"]) == {"general_editing", "style_change", "object_swap", "object_insertion",
                                       "object_modification", "object_removal"}


def test_route_record_shape(images: dict[str, str]) -> None:
    task = {"id": "t1", "image": images["photo"], "instruction": "  replace the cat with a dog ", "user_tag": 7}
    (out,) = run([task])
    Route.model_validate(out)
    assert out["id"] == "t1" and out["user_tag"] == 7 and out["image"] == images["photo"]
    assert out["intent"] == "object_swap"
    assert out["router"] == {"provider": "offline", "model": "rules", "prompt_version": "rules-1"}
    names = [m["name"] for m in out["models"]]
    assert "anydoor" not in names and "paint-by-example" not in names  # no mask / reference given
    assert [m["rank"] for m in out["models"]] == list(range(1, len(names) + 1))
    by_name = {m["name"]: m for m in out["models"]}
    assert by_name["instruct-pix2pix"]["prompt"] == "Replace the cat with a dog."
    assert by_name["infedit"]["prompt"] is None
    assert by_name["infedit"]["source_prompt"] == "a photo with the cat"
    assert by_name["infedit"]["target_prompt"] == "a photo with a dog"


def test_mask_and_reference_unlock_mask_guided_models(images: dict[str, str]) -> None:
    task = {"id": "t2", "image": images["photo"], "instruction": "swap the cat for this one",
            "mask": images["mask"], "reference_image": images["ref"]}
    (out,) = run([task])
    models = out["models"]
    assert [m["name"] for m in models[:2]] == ["anydoor", "paint-by-example"]
    # AnyDoor's stand-in (FLUX Kontext inpainting with the reference) takes the instruction; PbE takes none
    assert models[0]["prompt"] == "Swap the cat for this one." and models[1]["prompt"] is None
    assert "skipped" not in out


def test_top_k_and_style_targets(images: dict[str, str]) -> None:
    task = {"id": "t3", "image": images["photo"], "instruction": "render it as an anime still"}
    (out,) = run([task], top_k=2)
    assert out["intent"] == "style_change"
    # deadiff needs a reference image, so the style ranking starts at its second model, and the record says why
    assert [m["name"] for m in out["models"]] == ["controlnet-sdxl-canny", "instruct-pix2pix"]
    assert out["models"][0]["prompt"].startswith("a photo after this edit")  # prompt_style target
    [skipped] = out["skipped"]
    assert skipped["name"] == "deadiff" and "reference_image" in skipped["reason"] and "text" in skipped["reason"]


def test_bad_records_become_error_records(images: dict[str, str]) -> None:
    good = {"id": "g", "image": images["photo"], "instruction": "remove the tree"}
    bad = {"id": "b", "image": images["photo"]}
    out = run([good, bad])
    assert "error" not in out[0] and out[0]["intent"] == "object_removal"
    assert out[1]["error"]["stage"] == "route" and out[1]["error"]["kind"] == "invalid_record"
    with pytest.raises(RecordError, match="instruction"):
        run([bad])


def test_registry_fixture_config(tmp_path, monkeypatch: pytest.MonkeyPatch, images: dict[str, str]) -> None:
    """Only the schema fields matter: a minimal registry routes too, and t2i models are never routed."""
    (tmp_path / "models.toml").write_text(
        '[models.a]\nkind = "instruction"\nneeds = []\nprompt_style = "instruction"\n'
        '[models.b]\nkind = "t2i"\nneeds = []\nprompt_style = "target"\n'
        '[models.c]\nkind = "mask"\nneeds = ["mask"]\nprompt_style = "none"\n'
    )
    repo_routing = (config_dir() / "routing.toml").read_text()
    ranking = "[ranking]\n" + "".join(f'{intent} = ["c", "b", "a"]\n' for intent in INTENTS)
    (tmp_path / "routing.toml").write_text(ranking + repo_routing[repo_routing.index("[rules]"):])
    monkeypatch.setenv("HILITE_CONFIG_DIR", str(tmp_path))
    load_config.cache_clear()
    (out,) = run([{"id": "x", "image": images["photo"], "instruction": "make it winter"}])
    assert [m["name"] for m in out["models"]] == ["a"]
    (out,) = run([{"id": "y", "image": images["photo"], "instruction": "make it winter", "mask": images["mask"]}])
    assert [(m["name"], m["rank"], m["prompt"]) for m in out["models"]] == [("c", 1, None), ("a", 2, "Make it winter.")]
