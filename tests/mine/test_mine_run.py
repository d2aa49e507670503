"""End-to-end `hilite mine` runs with tiny random-weight pipelines and the loopback judge."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from mine.helpers import Judge, Mined, check_accounting, read_jsonl, write_specs
from support.loopback import Loopback
from support.photos import save_photo


def _files_exist(m: Mined) -> None:
    for record in m.pool:
        for field in ("image", "output"):
            path = Path(record[field])
            assert (path if path.is_absolute() else m.folder / path).is_file(), record[field]


def test_offline_run_with_loopback_gate_and_prefilter(mine, tmp_path: Path, server: Loopback, judge: Judge) -> None:
    specs = write_specs(tmp_path / "specs.jsonl", [
        {"t2i_prompt": "a cat on a sofa", "edits": ["make it winter", "a bad edit", "a sloppy change"]},
        {"t2i_prompt": "an implausible dog", "edits": ["make it winter"]},
    ])
    m = mine(str(specs), "--gate", "openai:qwen-7b", "--gate-base-url", server.openai_url,
             "--prefilter", "openai:qwen-72b", "--base-url", server.openai_url, "--keep-rejected", "--window", "64",
             "--steps", "1", "--t2i-steps", "1")
    assert m.code == 0, m.output
    sources, jobs = m.stats["sources"], m.stats["jobs"]
    assert sources["planned"] == sources["generated"] == 4  # N=2 seeds per prompt (preset small)
    assert sources["outcomes"] == {"gated": 2, "rejected:gate": 2}
    assert jobs["queue"] == jobs["sampled"] == 2 * 3 * 2  # gated sources x instructions x M
    assert jobs["rejected_at"]["a2"] == 4 and jobs["rejected_at"]["a3"] == 4
    assert jobs["passed"] + jobs["rejected_at"]["lowlevel"] == 4
    # A.4 sees only the edited image: identical edits are answered from the response cache.
    assert {k: judge.asked[k] for k in ("a5", "a2", "a3")} == {"a5": 4, "a2": 12, "a3": 8} and 1 <= judge.asked["a4"] <= 8
    check_accounting(m)
    assert [row["count"] for row in m.stats["survival"]] == [4, 2, 12, 4, jobs["passed"]]

    assert len(m.pool) == 12 and len({r["id"] for r in m.pool}) == 12  # --keep-rejected: all of them
    _files_exist(m)
    by_instruction = Counter((r["instruction"], r["rejected_at"]) for r in m.pool)
    assert by_instruction[("a bad edit", "a2")] == 4 and by_instruction[("a sloppy change", "a3")] == 4
    for r in m.pool:
        assert r["t2i_prompt"] == "a cat on a sofa" and r["origin"]["gate"]["passed"] is True
        assert r["model"] == "instruct-pix2pix" and r["params"]["steps"] == 1
        assert r["passed"] == (r["rejected_at"] is None)
        if r["rejected_at"] == "a2":
            assert r["scores"]["instruction"] == 2.0 and r["checks"]["unwanted"] is None
        if r["passed"]:
            assert r["scores"]["geometric"] == pytest.approx((4.9 * 4.8) ** 0.5)
            assert r["checks"]["unwanted"]["passed"] and r["checks"]["aesthetic"]["passed"] and r["checks"]["lowlevel"]["passed"]
    assert m.stats["notes"] == []  # every check really ran
    assert 0 < m.stats["utilization"]["gpu_busy_fraction"] <= 1.0


def test_seeds_of_one_pair_run_as_one_batched_call(tmp_path: Path, tiny_weights: dict[str, Path]) -> None:
    from hilite_cli.models.loader import load_model
    from hilite_cli.providers import get_provider
    from hilite_cli.stages.mine.pipeline import MineSettings, MiningRun
    from hilite_cli.stages.judging import Thresholds
    from hilite_cli.stages.mine.prefilter import Prefilter

    calls: list[tuple[str, list[int]]] = []

    def loader(name: str, **kwargs):
        model = load_model(name, **kwargs)
        if model.spec.kind != "t2i":
            edit = model.edit

            class Counting:
                spec = model.spec

                def edit(self, image, *, prompt, seeds, params, **extra):
                    calls.append((prompt, list(seeds)))
                    return edit(image, prompt=prompt, seeds=seeds, params=params, **extra)

            return Counting()
        return model

    settings = MineSettings(
        out_dir=tmp_path / "mined", pool=tmp_path / "pool.jsonl", errors=tmp_path / "errors.jsonl", n_sources=1,
        attempts=3, t2i="flux-schnell", editor="instruct-pix2pix", seed=0, window=100, postprocess_workers=2,
        max_pending=8, t2i_params={"steps": 1}, edit_params={"steps": 1},
        bounds={"long_side_min": 32, "long_side_max": 32, "max_aspect": 1.0}, weights=tiny_weights, device="cpu",
    )
    specs = [{"id": "s1", "t2i_prompt": "a red cat", "edits": ["make it winter", "make it blue"]}]
    stats = MiningRun(settings, specs, gate=None, prefilter=Prefilter(get_provider("offline"), Thresholds(aesthetics=4.7, instruction=4.7)), loader=loader).run()
    assert sorted((prompt, sorted(seeds)) for prompt, seeds in calls) == [("make it blue", [0, 1, 2]), ("make it winter", [0, 1, 2])]
    assert stats["jobs"]["sampled"] == 6 and stats["sources"]["outcomes"] == {"gate_skipped": 1}
    assert any("--no-gate" in n for n in stats["notes"]) and any("SEMANTIC PRE-FILTER NOT RUN" in n for n in stats["notes"])


def test_budget_stops_the_run_and_resume_finishes_the_queue(mine, tmp_path: Path, photos: Path) -> None:
    edits = tmp_path / "edits.txt"
    edits.write_text("make it winter\nmake it a painting\n")
    args = ("--images", str(photos), "--edits", str(edits))
    m = mine(*args, "--budget-gpu-hours", "1e-9")
    assert m.code == 0, m.output
    jobs = m.stats["jobs"]
    assert m.stats["budget"]["stopped_by"] == "budget"
    assert m.stats["sources"]["outcomes"] == {"photo": 2}
    assert jobs["queue"] == 2 * 2 * 2
    assert jobs["sampled"] == 2  # the first group (both seeds of one pair, one call) ran, then the budget was spent
    assert jobs["unsampled"] == 6 and jobs["sampled_fraction"] == pytest.approx(0.25)
    check_accounting(m)
    assert m.stats["budget"]["used_gpu_hours"] > 1e-9

    again = mine(*args, "--budget-gpu-hours", "1e-9", "--resume")
    assert again.stats["jobs"]["sampled"] == 2  # the spent budget is remembered across runs

    done = mine(*args, "--resume")
    assert done.stats["jobs"]["sampled"] == 8 and done.stats["budget"]["stopped_by"] == "queue_empty"
    check_accounting(done)
    assert len({r["id"] for r in done.pool}) == len(done.pool) == done.stats["jobs"]["passed"]
    _files_exist(done)
    assert all(r["origin"]["kind"] == "photo" and r["origin"]["gate"]["status"] == "not_applicable" for r in done.pool)


def test_until_first_pass_with_the_classic_editor(mine, tmp_path: Path, photos: Path) -> None:
    edits = tmp_path / "edits.txt"
    edits.write_text("make it grayscale\nmake it sepia\n")
    m = mine("--images", str(photos), "--edits", str(edits), "--editor", "classic", "--attempts", "3",
             "--until-first-pass", "--window", "1", "--no-overlap")
    assert m.code == 0, m.output
    jobs = m.stats["jobs"]
    # classic is deterministic: one attempt per (photo, instruction) stands for all three
    assert jobs["queue"] == 4
    assert jobs["passed"] == 4 and jobs["sampled"] == 4
    assert jobs["dropped_after_pass"] == 0 and jobs["unsampled"] == 0
    check_accounting(m)
    assert all("one candidate stands for all attempts" in r["params"]["note"] for r in m.pool)


def test_bad_inputs_are_errors_not_silence(mine, tmp_path: Path) -> None:
    specs = tmp_path / "specs.jsonl"
    specs.write_text('{"t2i_prompt": "a cat"}\nnot json\n')
    m = mine(str(specs))
    assert m.code == 1
    assert {e["error"]["kind"] for e in m.errors} == {"invalid_spec", "malformed_line"}
    assert m.stats["jobs"]["queue"] == 0

    assert mine("--design", "2", str(specs)).code == 2  # two inputs at once


@pytest.mark.parametrize(
    "args",
    [
        ("--images", "photos"),  # --images without --edits
        ("specs.jsonl", "--gate", "offline", "--no-gate"),
        ("specs.jsonl", "--preset", "nonesuch"),
        ("specs.jsonl", "--editor", "flux-schnell"),  # not an editor
        ("specs.jsonl", "--prefilter", "nonesuch:model"),
        ("specs.jsonl", "--editor", "flux-kontext"),  # no weights here (HF_HUB_OFFLINE): exit 2 before any source
        ("missing.jsonl",),
    ],
)
def test_usage_errors_exit_2(mine, tmp_path: Path, args: tuple[str, ...]) -> None:
    (tmp_path / "photos").mkdir()
    write_specs(tmp_path / "specs.jsonl", [{"t2i_prompt": "a cat", "edits": ["make it winter"]}])
    resolved = [str(tmp_path / a) if a in ("photos", "specs.jsonl", "missing.jsonl") else a for a in args]
    m = mine(*resolved)
    assert m.code == 2
    assert not [e for e in m.state if e["type"] == "source"]


def test_provider_flags_reach_the_prefilter(mine, tmp_path: Path, photos: Path, server: Loopback, judge: Judge) -> None:
    """A re-run is answered from the response cache; --no-cache asks the pre-filter afresh."""
    edits = tmp_path / "edits.txt"
    edits.write_text("make it grayscale\n")
    args = ("--images", str(photos), "--edits", str(edits), "--editor", "classic", "--attempts", "1",
            "--prefilter", "openai:qwen-72b", "--base-url", server.openai_url, "--timeout", "30", "--max-retries", "0")
    first = mine(*args, folder=tmp_path / "first")
    assert first.code == 0, first.output
    asked = judge.asked["a2"]
    assert asked == first.stats["jobs"]["sampled"] > 0
    assert mine(*args, folder=tmp_path / "cached").code == 0
    assert judge.asked["a2"] == asked
    assert mine(*args, "--no-cache", folder=tmp_path / "fresh").code == 0
    assert judge.asked["a2"] == 2 * asked


def test_missing_t2i_weights_fail_their_sources_and_the_photos_still_mine(tmp_path: Path) -> None:
    from mine.helpers import collect, write_specs
    from support.cli import hilite

    save_photo(tmp_path, "coffee", size=48)
    specs = write_specs(tmp_path / "specs.jsonl", [
        {"t2i_prompt": "a cat on a sofa", "edits": ["make it winter"]},
        {"image": "coffee.png", "edits": ["make it sepia"]},
    ])
    res = hilite("mine", str(specs), "-o", "pool.jsonl", "--out", "mined", "--stats", "stats.json", "--preset", "small",
                 "--editor", "classic", "--prefilter", "offline", "--no-gate", "--no-progress", cwd=tmp_path)
    m = collect(tmp_path, res.returncode, res.stderr.decode())
    assert m.code == 1, m.output
    assert "cannot load weights for model 'flux-schnell'" in m.output and "hf download" in m.output
    assert m.pool and all(r["origin"]["kind"] == "photo" for r in m.pool)
    failed = [e for e in m.errors if e.get("kind") == "t2i"]
    assert failed and all(e["outcome"] == "failed:weights_missing" for e in failed)


def test_png_level_is_a_setting_and_lossless(tmp_path: Path) -> None:
    """configs/mining.toml [images] png_level sets the zlib level of the edits mine writes; any level
    gives the same pixels, ids and outcomes (only the file size and the CPU it costs change)."""
    import numpy as np
    from PIL import Image

    from hilite_cli.config import load_config
    from hilite_cli.providers import get_provider
    from hilite_cli.stages.judging import Thresholds
    from hilite_cli.stages.mine.pipeline import MineSettings, MiningRun
    from hilite_cli.stages.mine.prefilter import Prefilter

    specs = [{"id": f"p{i}", "image": str(save_photo(tmp_path, name, 48)), "edits": ["make it black and white"]}
             for i, name in enumerate(("astronaut", "coffee"))]
    pools = {}
    for level in (0, 9):
        folder = tmp_path / f"level{level}"
        settings = MineSettings(
            out_dir=folder / "mined", pool=folder / "pool.jsonl", errors=folder / "errors.jsonl", n_sources=1, attempts=1,
            t2i="flux-schnell", editor="classic", seed=0, window=8, postprocess_workers=2, max_pending=4,
            keep_rejected=True, png_level=level,
        )
        MiningRun(settings, specs, gate=None, prefilter=Prefilter(get_provider("offline"), Thresholds(4.7, 4.7))).run()
        pools[level] = {r["id"]: folder / r["output"] for r in read_jsonl(folder / "pool.jsonl")}
    assert pools[0].keys() == pools[9].keys() and len(pools[0]) == 2
    for cid in pools[0]:
        stored, packed = pools[0][cid], pools[9][cid]
        assert np.array_equal(np.asarray(Image.open(stored)), np.asarray(Image.open(packed)))
        assert stored.stat().st_size > packed.stat().st_size  # level 0 stores, level 9 compresses
    assert MineSettings(out_dir=tmp_path, pool=tmp_path / "p", errors=tmp_path / "e", n_sources=1, attempts=1, t2i="x",
                        editor="classic", seed=0, window=1, postprocess_workers=1,
                        max_pending=1).png_level == load_config("mining")["images"]["png_level"]
