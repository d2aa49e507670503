"""`mine --schedule adaptive` end to end with the synthetic editor: reproducible, resumable, and the
pool carries each pair's difficulty."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
from support.photos import save_photo
from support.synthetic_editor import STANDS_FOR, SyntheticEditor, synthetic_loader

RATES = {"easy": 0.8, "weak": 0.2}


def _specs(folder: Path) -> list[dict]:
    specs = []
    for name in ("astronaut", "coffee", "rocket"):
        edits = [f"{c}: edit {i}" for c in RATES for i in range(2)]
        specs.append({"id": name, "image": str(save_photo(folder, name, size=24)), "edits": edits,
                      "category": {e: e.split(":")[0] for e in edits}})
    return specs


def _run(folder: Path, specs: list[dict], **overrides) -> dict:
    from hilite_cli.providers import get_provider
    from hilite_cli.stages.judging import Thresholds
    from hilite_cli.stages.mine.pipeline import MineSettings, MiningRun
    from hilite_cli.stages.mine.prefilter import Prefilter

    settings = MineSettings(
        out_dir=folder / "mined", pool=folder / "pool.jsonl", errors=folder / "errors.jsonl", n_sources=1, attempts=2,
        t2i="flux-schnell", editor=STANDS_FOR, seed=5, window=4, postprocess_workers=2, max_pending=8, schedule="adaptive",
    )
    settings = dataclasses.replace(settings, **overrides)
    prefilter = Prefilter(get_provider("offline"), Thresholds(aesthetics=4.7, instruction=4.7))
    return MiningRun(settings, specs, gate=None, prefilter=prefilter, loader=synthetic_loader(SyntheticEditor(RATES))).run()


def _lines(path: Path) -> list[dict]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


def test_adaptive_run_is_reproducible_and_resumes_to_the_same_draw(tmp_path: Path) -> None:
    specs = _specs(tmp_path)
    whole = _run(tmp_path / "a", specs)
    assert whole["schedule"]["job_budget"] == 3 * 4 * 2 == whole["jobs"]["sampled"]
    assert whole["budget"]["stopped_by"] == "job_budget"
    assert whole["settings"]["schedule"] == "adaptive"
    jobs_a = {e["id"] for e in _lines(tmp_path / "a" / "pool.jsonl.state.jsonl") if e["type"] == "job"}

    cut = _run(tmp_path / "b", specs, budget_gpu_hours=1e-12)
    assert cut["budget"]["stopped_by"] == "budget" and cut["jobs"]["sampled"] < whole["jobs"]["sampled"]
    resumed = _run(tmp_path / "b", specs, resume=True)
    jobs_b = {e["id"] for e in _lines(tmp_path / "b" / "pool.jsonl.state.jsonl") if e["type"] == "job"}
    assert jobs_b == jobs_a  # the resumed run drew exactly what the uninterrupted one drew
    assert resumed["difficulty"] == whole["difficulty"]

    pool = _lines(tmp_path / "b" / "pool.jsonl")
    assert len({r["id"] for r in pool}) == len(pool) == resumed["jobs"]["passed"]
    for record in pool:
        block = record["difficulty"]
        assert record["category"] == block["category"] == record["instruction"].split(":")[0]
        assert record["seed"] in block["seeds_passed"] and block["attempts_to_pass"] >= 1
    weak, easy = resumed["difficulty"]["weak"], resumed["difficulty"]["easy"]
    assert weak["attempts"] > easy["attempts"]  # a weak but not hopeless category got more of the budget
    assert weak["pass_rate_ci95"][0] <= weak["pass_rate"] <= weak["pass_rate_ci95"][1]


def _mine(*args: str):
    from typer.testing import CliRunner

    from hilite_cli.cli.app import app

    return CliRunner().invoke(app, ["mine", *args], catch_exceptions=False)


def test_schedule_options_on_the_command_line(tmp_path: Path) -> None:
    specs = tmp_path / "specs.jsonl"
    spec = {"id": "a", "image": str(save_photo(tmp_path, "coffee", size=24)), "edits": ["make it grayscale"], "category": "tone"}
    specs.write_bytes(orjson.dumps(spec) + b"\n")
    weights = tmp_path / "eval.json"
    weights.write_bytes(orjson.dumps({"category_weights": {"tone": 2.0}}))
    base = [str(specs), "-o", str(tmp_path / "pool.jsonl"), "--out", str(tmp_path / "m"), "--stats", str(tmp_path / "s.json"),
            "--preset", "small", "--editor", "classic", "--no-progress"]
    ok = _mine(*base, "--schedule", "adaptive", "--category-weights", str(weights))
    assert ok.exit_code == 0, ok.output
    stats = orjson.loads((tmp_path / "s.json").read_bytes())
    assert stats["schedule"]["prior"] == {"tone": 2.0} and stats["difficulty"]["tone"]["passes"] >= 1
    bad = _mine(*base, "--schedule", "greedy")
    assert bad.exit_code == 2 and "--schedule must be one of uniform, adaptive" in bad.output
    weights.write_bytes(b'{"tone": -1}')
    neg = _mine(*base, "--schedule", "adaptive", "--category-weights", str(weights))
    assert neg.exit_code == 2 and "weight of 'tone' must be a number >= 0" in neg.output
    uniform = _mine(*base, "--category-weights", str(weights))
    assert uniform.exit_code == 2 and "only applies to --schedule adaptive" in uniform.output
