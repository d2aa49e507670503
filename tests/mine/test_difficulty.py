"""Difficulty per (source, instruction) and pass rate per category, on hand-computed cases."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from hilite_cli.stages.mine.difficulty import (
    annotate_pool,
    category_stats,
    difficulties,
    difficulty_key,
    wilson,
    with_validated_difficulty,
)


def _entry(source: str, seed: int, outcome: str, instruction: str = "add a hat") -> dict:
    return {"type": "job", "id": f"{source}-{instruction}-{seed}", "source": source, "instruction": instruction,
            "seed": seed, "outcome": outcome}


JOBS = {e["id"]: e for e in [
    _entry("s1", 3, "rejected:a2"), _entry("s1", 0, "rejected:lowlevel"), _entry("s1", 1, "passed"),
    _entry("s1", 2, "failed:http_error"), _entry("s1", 4, "passed"),
    _entry("s2", 0, "rejected:a3"), _entry("s2", 1, "rejected:a2"),
    _entry("s3", 0, "passed", "make it winter"),
]}
CATEGORIES = {("s1", "add a hat"): "add", ("s2", "add a hat"): "add", ("s3", "make it winter"): "style"}


def test_pair_difficulty_in_seed_order_without_failures() -> None:
    d = difficulties(JOBS, CATEGORIES)
    s1 = d[("s1", "add a hat")]
    assert s1["seeds_tried"] == [0, 1, 3, 4] and s1["seeds_passed"] == [1, 4]  # the failed seed 2 says nothing
    assert (s1["attempts"], s1["passes"], s1["pass_rate"], s1["attempts_to_pass"]) == (4, 2, 0.5, 2)
    s2 = d[("s2", "add a hat")]
    assert s2["attempts_to_pass"] is None and s2["censored"] and s2["pass_rate"] == 0.0
    assert d[("s3", "make it winter")]["attempts_to_pass"] == 1


def test_category_pass_rate_with_wilson_interval() -> None:
    stats = category_stats(difficulties(JOBS, CATEGORIES))
    add = stats["add"]
    assert (add["pairs"], add["attempts"], add["passes"], add["pass_rate"]) == (2, 6, 2, pytest.approx(1 / 3))
    # Wilson 95 % for 2/6: centre (1/3 + z^2/12) / (1 + z^2/6), half-width z/(1 + z^2/6) sqrt(p(1-p)/6 + z^2/144)
    assert add["pass_rate_ci95"] == pytest.approx([0.0968, 0.7000], abs=1e-4)
    assert add["mean_attempts_to_pass"] == 2.0 and add["pairs_without_pass"] == 1
    assert stats["style"]["pass_rate_ci95"] == pytest.approx([0.2065, 1.0], abs=1e-4)
    assert wilson(2, 4) == pytest.approx((0.1500, 0.8500), abs=1e-4)
    assert wilson(0, 0) is None


def test_pool_annotated_and_validated_attempts_filled_in(tmp_path: Path) -> None:
    pool = tmp_path / "pool.jsonl"
    rows = [{"id": "c1", "parent": "s1", "instruction": "add a hat", "seed": 1},
            {"id": "c4", "parent": "s1", "instruction": "add a hat", "seed": 4},
            {"id": "c9", "parent": "s3", "instruction": "make it winter", "seed": 0}]
    pool.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    assert annotate_pool(pool, difficulties(JOBS, CATEGORIES)) == 3
    annotated = [orjson.loads(x) for x in pool.read_bytes().splitlines()]
    assert [r["category"] for r in annotated] == ["add", "add", "style"]
    assert annotate_pool(pool, difficulties(JOBS, CATEGORIES)) == 0  # a resumed run changes nothing more
    # validate --keep all: seed 1 failed the hard filter, seed 4 passed -> 4th judged attempt (seeds 0, 1, 3, 4)
    scored = [{**annotated[0], "thresholds": {}, "passed": False}, {**annotated[1], "thresholds": {}, "passed": True},
              {**annotated[2], "thresholds": {}, "passed": True}]
    out = with_validated_difficulty(scored)
    assert [r["difficulty"]["attempts_to_validated_pass"] for r in out] == [4, 4, 1]
    triplet = {**annotated[1], "kind": "forward"}  # --select best keeps one seed: earlier seeds' verdicts are unknown
    assert with_validated_difficulty([triplet])[0]["difficulty"]["attempts_to_validated_pass"] is None
    ordered = sorted([*out, {"id": "plain"}], key=difficulty_key)
    assert [r["id"] for r in ordered] == ["c9", "c1", "c4", "plain"]  # easy -> hard, unknown last


def test_export_orders_a_curriculum_and_keeps_the_difficulty(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hilite_cli.cli.app import app

    def scored(rid: str, seed: int, first: int | None, rate: float, passed: bool = True) -> dict:
        block = {"category": "add", "attempts": 4, "passes": 1, "pass_rate": rate, "attempts_to_pass": first,
                 "attempts_to_validated_pass": None, "seeds_tried": [0, 1, 2, 3], "seeds_passed": [seed]}
        return {"id": rid, "parent": rid[0], "image": "s.png", "output": f"{rid}.png", "instruction": "add a hat",
                "seed": seed, "scores": {"instruction": 4.8, "aesthetics": 4.9}, "thresholds": {}, "passed": passed,
                "category": "add", "difficulty": block}

    rows = [scored("a1", 3, 4, 0.25), scored("b1", 0, 1, 0.5), scored("c1", 1, 2, 0.75), {"id": "d1", "image": "s.png",
            "output": "d1.png", "instruction": "make it blue", "scores": {"instruction": 5, "aesthetics": 5}}]
    manifest = tmp_path / "scored.jsonl"
    manifest.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    out = tmp_path / "kto.jsonl"
    result = CliRunner().invoke(app, ["export", str(manifest), "--format", "kto", "--to", str(out), "--order", "difficulty"])
    assert result.exit_code == 0, result.output
    exported = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert [r["id"] for r in exported] == ["b1", "c1", "a1", "d1"]  # 1, 2, 4 attempts to the validated pass, then unknown
    assert orjson.loads(exported[0]["provenance"])["difficulty"]["attempts_to_validated_pass"] == 1
    prov = [orjson.loads(r["provenance"]) for r in exported]
    assert prov[0]["category"] == "add" and "difficulty" not in prov[3]
    bad = CliRunner().invoke(app, ["export", str(manifest), "--format", "kto", "--to", str(out), "--order", "hardest"])
    assert bad.exit_code == 2 and "--order must be input or difficulty" in bad.output


def test_score_dataset_breaks_down_by_difficulty_band(tmp_path: Path) -> None:
    from support.photos import save_photo
    from typer.testing import CliRunner

    from hilite_cli.cli.app import app

    source = save_photo(tmp_path, "coffee", size=24)
    rows = []
    for rid, first in (("t1", 1), ("t2", 1), ("t3", 5)):
        edited = tmp_path / f"{rid}.png"
        edited.write_bytes(source.read_bytes())
        block = difficulties({"j": _entry("s", first - 1, "passed")} | {f"j{i}": _entry("s", i, "rejected:a2") for i in range(first - 1)},
                             {("s", "add a hat"): "add"})[("s", "add a hat")]
        rows.append({"id": rid, "source": str(source), "edited": str(edited), "instruction": "add a hat", "kind": "forward",
                     "difficulty": block})
    manifest = tmp_path / "triplets.jsonl"
    manifest.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    result = CliRunner().invoke(app, ["score-dataset", str(manifest), "--metrics", "ssim", "--by", "difficulty.band",
                                      "--json", str(tmp_path / "r.json"), "--no-progress", "-o", str(tmp_path / "s.jsonl")])
    assert result.exit_code == 0, result.output
    categories = orjson.loads((tmp_path / "r.json").read_bytes())["datasets"]["triplets"]["categories"]
    assert {k: v["n"] for k, v in categories.items()} == {"1 attempt": 2, "4+ attempts": 1}


def test_first_validated_pass_hand_computed() -> None:
    from hilite_cli.stages.mine.difficulty import first_validated

    assert first_validated([3, 1, 7], {1, 7}) == 2  # seed 3 judged and failed: the 2nd attempt
    assert first_validated([3, 1, 7], {1, 7}, unknown={3}) is None  # seed 3 might have been the first
    assert first_validated([3, 1, 7], {3}, unknown={7}) == 1  # an unknown after the first pass changes nothing
    assert first_validated([3, 1, 7], set()) is None


def _scored_pool() -> tuple[list[dict], list[dict]]:
    """validate --keep all output over three pairs (every seed passed mine's pre-filter), and one
    candidate whose judge call failed (an error record, no verdict)."""
    block = {"seeds_tried": [0, 1, 2, 3], "seeds_passed": [0, 1, 2, 3], "attempts_to_validated_pass": None}
    verdicts = {"a": {0: False, 1: True, 2: True, 3: False}, "b": {1: False, 2: False, 3: True},
                "c": {0: False, 2: False, 3: False}}  # b's seed 0 errored: unknown first; c's 1 has no record
    rows = [{"id": f"{p}{s}", "parent": p, "instruction": "add a hat", "seed": s, "thresholds": {}, "passed": ok,
             "difficulty": dict(block)} for p, seeds in verdicts.items() for s, ok in seeds.items()]
    errored = [{"id": "b0", "parent": "b", "instruction": "add a hat", "seed": 0,
                "error": {"stage": "validate", "kind": "http_error", "message": "down"}}]
    return rows, errored


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


@pytest.mark.parametrize("order", ["grouped", "interleaved"])
def test_fill_streams_the_output_grouped_or_not_with_the_in_memory_answer(tmp_path: Path, order: str) -> None:
    from hilite_cli.stages.mine.difficulty import fill_validated_difficulty, validated_difficulty

    rows, errored = _scored_pool()
    if order == "interleaved":  # pairs come back after another pair's records: the two-pass path
        rows = rows[::2] + rows[1::2]
    output = _write(tmp_path / "out.jsonl", [*rows, {"id": "plain", "source": "x.png"}])
    errors = _write(tmp_path / "out.jsonl.errors.jsonl", errored)
    expected = {r["id"]: r for r in validated_difficulty([*rows, {"id": "plain", "source": "x.png"}], errored)}
    assert fill_validated_difficulty(output, errors) == 4  # pair a; b and c stay null (unknown)
    filled = [orjson.loads(x) for x in output.read_bytes().splitlines()]
    assert [r["id"] for r in filled] == [*(r["id"] for r in rows), "plain"]  # order and every line kept
    assert filled == [expected[r["id"]] for r in filled]
    firsts = {r["parent"]: r["difficulty"]["attempts_to_validated_pass"] for r in filled if "parent" in r}
    assert firsts == {"a": 2, "b": None, "c": None}
    assert fill_validated_difficulty(output, errors) == 0  # up to date: nothing rewritten


def test_the_ledger_clears_an_error_judged_since(tmp_path: Path) -> None:
    from hilite_cli.stages.mine.difficulty import fill_validated_difficulty

    rows, errored = _scored_pool()
    rows = [{**r, "passed": False} if r["parent"] == "b" else r for r in rows]
    rows.insert(4, {**rows[4], "id": "b0", "seed": 0, "passed": True})  # b0 judged on a resumed run
    output = _write(tmp_path / "out.jsonl", rows)
    ledger = tmp_path / "out.jsonl.done"
    ledger.write_text("b0\n")
    fill_validated_difficulty(output, _write(tmp_path / "errors.jsonl", errored), ledger)
    filled = {r["id"]: r["difficulty"]["attempts_to_validated_pass"] for r in map(orjson.loads, output.read_bytes().splitlines())}
    assert filled["b1"] == 1


def test_fill_leaves_a_file_without_difficulty_blocks_untouched(tmp_path: Path) -> None:
    from hilite_cli.stages.mine.difficulty import fill_validated_difficulty

    output = _write(tmp_path / "out.jsonl", [{"id": f"c{i}", "parent": "p", "seed": i, "thresholds": {}, "passed": True}
                                            for i in range(5)])
    before = output.stat()
    errors = tmp_path / "errors.jsonl"
    errors.write_bytes(b"not json at all\n")  # never read: there is nothing to fill in
    assert fill_validated_difficulty(output, errors) == 0
    after = output.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_fill_writes_through_a_symlinked_output(tmp_path: Path) -> None:
    from hilite_cli.stages.mine.difficulty import fill_validated_difficulty

    rows, errored = _scored_pool()
    real = _write(tmp_path / "real.jsonl", rows)
    link = tmp_path / "out.jsonl"
    link.symlink_to(real)
    assert fill_validated_difficulty(link, _write(tmp_path / "errors.jsonl", errored)) == 4
    assert link.is_symlink() and sum(orjson.loads(x)["difficulty"]["attempts_to_validated_pass"] == 2
                                     for x in real.read_bytes().splitlines()) == 4
