"""Model settings are checked once, up front: exit 2 with one line, nothing written (issue 11, item 11)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from hilite_cli.cli.app import app
from support.photos import save_photo

BAD = [
    (["--device", "tpu"], "not a device torch knows"),
    (["--dtype", "foo"], "'foo' is not a dtype"),
    (["--weights", "instruct-pix2px={dir}"], "no model 'instruct-pix2px' is registered"),
]


def _invoke(tmp_path: Path, args: list[str]) -> object:
    runner = CliRunner()
    return runner.invoke(app, [a.replace("{dir}", str(tmp_path)) for a in args], catch_exceptions=False)


@pytest.fixture
def tasks(tmp_path: Path) -> Path:
    img = save_photo(tmp_path, "coffee", 32)
    path = tmp_path / "t.jsonl"
    path.write_bytes(orjson.dumps({"id": "a", "image": str(img), "instruction": "make it sepia"}) + b"\n")
    return path


@pytest.mark.parametrize(("bad", "words"), BAD + [(["--device", "cuda"], "no CUDA GPU")])
def test_edit_refuses_bad_model_settings_once(tmp_path: Path, tasks: Path, bad: list[str], words: str) -> None:
    import torch

    if "cuda" in bad and torch.cuda.is_available():
        pytest.skip("a CUDA GPU is visible here")
    out = tmp_path / "c.jsonl"
    result = _invoke(tmp_path, ["edit", str(tasks), "--models", "classic", "--out", str(tmp_path / "e"), "-o", str(out), *bad])
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert words in line and not out.exists()


@pytest.mark.parametrize(("bad", "words"), BAD)
def test_mine_refuses_bad_model_settings_once(tmp_path: Path, tasks: Path, bad: list[str], words: str) -> None:
    pool = tmp_path / "pool.jsonl"
    (tmp_path / "e.txt").write_text("make it sepia\n")
    result = _invoke(tmp_path, ["mine", "--images", str(tmp_path), "--edits", str(tmp_path / "e.txt"), "--editor", "classic",
                                "-o", str(pool), "--out", str(tmp_path / "m"), "--no-gate", "--prefilter", "offline", *bad])
    assert result.exit_code == 2
    assert words in result.output.strip().splitlines()[-1] and not pool.exists()


def test_score_dataset_refuses_a_bad_clip_device(tmp_path: Path, tasks: Path) -> None:
    result = _invoke(tmp_path, ["score-dataset", str(tasks), "--metrics", "clip", "--device", "tpu"])
    assert result.exit_code == 2 and "not a device torch knows" in result.output


@pytest.mark.parametrize(
    ("knob", "words"),
    [(["--text-influence", "11"], "less than or equal to 10"), (["--image-influence", "-1"], "greater than or equal to 0"),
     (["--param", "classic.strength=3"], "outside its range 0.1..1"), (["--param", "classic=3"], "MODEL.NAME=VALUE"),
     (["--param", "nope.guidance_scale=3"], "unknown model")],
)
def test_edit_refuses_out_of_range_knobs(tmp_path: Path, tasks: Path, knob: list[str], words: str) -> None:
    out = tmp_path / "c.jsonl"
    result = _invoke(tmp_path, ["edit", str(tasks), "--models", "classic", "--out", str(tmp_path / "e"), "-o", str(out), *knob])
    assert result.exit_code == 2 and words in result.output and not out.exists()


def test_edit_records_level_and_native_value(tmp_path: Path, tasks: Path) -> None:
    out = tmp_path / "c.jsonl"
    result = _invoke(tmp_path, ["edit", str(tasks), "--models", "classic", "--text-influence", "5", "--seeds", "3",
                                "--out", str(tmp_path / "e"), "-o", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    [cand] = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert cand["params"]["text_influence"] == 5.0 and cand["params"]["native"] == {"strength": 0.55}
    assert "1 candidate" in cand["params"]["note"]


def _editors_with_text() -> list[tuple[str, str, float]]:
    from hilite_cli.models.registry import load_registry

    return [(s.name, s.knobs.text_influence, s.scale.text_influence.bounds[1])
            for s in load_registry().values() if s.kind != "t2i" and s.knobs.text_influence]


@pytest.mark.parametrize(("name", "arg", "top"), _editors_with_text())
def test_every_editor_refuses_a_native_value_out_of_its_range(tmp_path: Path, tasks: Path, name: str, arg: str,
                                                              top: float) -> None:
    out = tmp_path / "c.jsonl"
    result = _invoke(tmp_path, ["edit", str(tasks), "--models", name, "--param", f"{name}.{arg}={top + 1}",
                                "--out", str(tmp_path / "e"), "-o", str(out)])
    assert result.exit_code == 2 and "outside its range" in result.output and not out.exists()


def test_mine_enforces_the_documented_step_range_of_flux_schnell(tmp_path: Path) -> None:
    specs = tmp_path / "specs.jsonl"
    specs.write_bytes(orjson.dumps({"t2i_prompt": "a cat on a sofa", "edits": ["make it sepia"]}) + b"\n")
    pool = tmp_path / "pool.jsonl"
    result = _invoke(tmp_path, ["mine", str(specs), "--editor", "classic", "--t2i-steps", "8", "-o", str(pool),
                                "--out", str(tmp_path / "m"), "--no-gate", "--prefilter", "offline"])
    assert result.exit_code == 2 and "outside its documented 1..4" in result.output
