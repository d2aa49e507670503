"""The `local` backend's plumbing on a tiny random-weight Qwen2.5-VL (quality is not asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.tiny_qwen_vl import build_tiny_qwen_vl

from hilite_cli.providers import Ask, ProviderConfigError, get_provider
from hilite_cli.providers.local import qwen_vl_inputs


@pytest.fixture(scope="module")
def tiny_vl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen_vl(tmp_path_factory.mktemp("tiny-qwen-vl"))


@pytest.fixture(scope="module")
def tiny_vl_stops(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen_vl(tmp_path_factory.mktemp("tiny-qwen-vl-stop"), stop_after_one_token=True)


def test_inputs_carry_one_pad_run_per_image(tiny_vl: Path, png: bytes, png2: bytes) -> None:
    from transformers import AutoImageProcessor, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_vl)
    processor = AutoImageProcessor.from_pretrained(tiny_vl, backend="pil")
    inputs = qwen_vl_inputs(tokenizer, processor, "Is it plausible?", [png, png2])
    pad = tokenizer.convert_tokens_to_ids("<|image_pad|>")
    start = tokenizer.convert_tokens_to_ids("<|vision_start|>")
    grids = inputs["image_grid_thw"]
    assert grids.shape == (2, 3)
    assert int((inputs["input_ids"] == pad).sum()) == int(grids.prod(dim=1).sum()) // processor.merge_size**2
    assert int((inputs["input_ids"] == start).sum()) == 2
    assert inputs["pixel_values"].shape[0] == int(grids.prod(dim=1).sum())
    assert tokenizer.decode(inputs["input_ids"][0]).endswith("Is it plausible?<|im_end|>\n<|im_start|>assistant\n")


def test_generation_is_deterministic_and_limited(tiny_vl: Path, png: bytes) -> None:
    provider = get_provider(f"local:{tiny_vl}", use_cache=False)
    ask = Ask(prompt="Answer 'Yes' or 'No'.", images=[png], expect="yesno", max_output_tokens=6)
    first, second = provider.ask(ask), provider.ask(ask)
    assert first.status == "truncated" and first.value is None and first.raw  # random weights never stop
    assert first.raw == second.raw and first.provider == "local" and first.model == str(tiny_vl)


def test_complete_but_invalid_json_is_unparsed_with_raw_kept(tiny_vl_stops: Path, png: bytes) -> None:
    answer = get_provider(f"local:{tiny_vl_stops}", use_cache=False).ask(
        Ask(prompt="Score it.", images=[png, png], expect="json", max_output_tokens=8)
    )
    assert answer.status == "unparsed" and answer.value is None and answer.reason
    assert answer.raw is not None


def test_cached_answers_load_no_model(tiny_vl_stops: Path, png: bytes) -> None:
    ask = Ask(prompt="Is it nice?", images=[png], expect="yesno", max_output_tokens=4)
    first = get_provider(f"local:{tiny_vl_stops}").ask(ask)
    again = get_provider(f"local:{tiny_vl_stops}")
    assert again.ask(ask).cached and again._loaded is None
    assert first.status in ("ok", "unparsed")


def test_missing_model_is_a_clear_config_error_before_any_record(tmp_path: Path) -> None:
    with pytest.raises(ProviderConfigError, match="does not exist"):
        get_provider(f"local:{tmp_path / 'no-such-model'}", use_cache=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProviderConfigError, match="no config.json"):
        get_provider(f"local:{tmp_path / 'empty'}", use_cache=False)


def test_uncached_hub_model_offline_is_a_clear_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ProviderConfigError, match="not in the Hugging Face cache.*hf download"):
        get_provider("local:Qwen/Qwen2.5-VL-7B-Instruct", use_cache=False)


def test_mine_with_an_uncached_local_gate_exits_2_with_one_line(tmp_path: Path) -> None:
    from support.cli import hilite

    specs = tmp_path / "specs.jsonl"
    specs.write_text('{"id": "s0", "t2i_prompt": "a street", "edits": ["Remove the bench."]}\n')
    result = hilite("mine", str(specs), "-o", str(tmp_path / "pool.jsonl"), "--gate", "local:nobody/no-such-vlm",
                    "--prefilter", "offline", "--no-progress",
                    env={"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")})
    stderr = result.stderr.decode().strip()
    assert result.returncode == 2 and len(stderr.splitlines()) == 1, stderr
    assert "--gate local:nobody/no-such-vlm" in stderr and "not in the Hugging Face cache" in stderr
