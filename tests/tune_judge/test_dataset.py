"""`hilite tune-judge dataset`: the join, the split, de-biasing on train only, A.2 answers, refusals."""

from __future__ import annotations

from pathlib import Path

import orjson
from support.cli import hilite

from hilite_cli.providers.parsing import parse_json
from hilite_cli.providers.schemas import EditScores
from hilite_cli.stages.tune_judge.split import split_items


def _rows(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def test_builds_split_examples_and_histograms(rated_store, tmp_path: Path) -> None:
    store, ratings = rated_store
    out = tmp_path / "set"
    res = hilite("tune-judge", "dataset", str(ratings), "--data", str(store.root), "--out", str(out), "--seed", "7")
    assert res.returncode == 0, res.stderr.decode()
    meta = orjson.loads((out / "split.json").read_bytes())
    train, val = set(meta["items"]["train"]), set(meta["items"]["validation"])
    assert train and val and not train & val and len(train | val) == 12
    assert meta["seed"] == 7 and meta["rater_biases_fitted_on"] == "train"
    # stratified: both categories in both splits
    for split in (train, val):
        assert {int(i[2:]) % 2 for i in split} == {0, 1}
    assert sum(meta["histograms"]["train"]["instruction"]) == len(train)
    assert b"score histogram" in res.stderr
    for name, items in (("train", train), ("validation", val)):
        rows = _rows(out / name / "metadata.jsonl")
        assert {r["item"] for r in rows} == items
        for row in rows:
            user, answer = row["messages"]
            assert [c["type"] for c in user["content"]] == ["image", "image", "text"]
            assert "You are an expert evaluator of image editing quality" in user["content"][2]["text"]
            text = answer["content"][0]["text"]
            parsed = parse_json(text, EditScores)
            assert parsed.status == "ok"
            assert (parsed.value.InstructionAdherence, parsed.value.ImageAesthetic) == (
                row["scores"]["instruction"], row["scores"]["aesthetics"])
            assert all((out / name / f).is_file() for f in row["file_names"])
    # the harsh rater's bias was fitted on training items only, and removed: a clear success reads 5
    humans = {h["item"]: h for h in _rows(out / "human" / "train.jsonl")}
    assert meta["rater_biases"]["instruction"]["cy"] < 0
    assert humans["it01"]["instruction"] >= 4.5


def test_biases_come_from_train_only(rated_store, tmp_path: Path) -> None:
    """Changing a validation rating leaves every training target as it was."""
    store, ratings = rated_store
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    assert hilite("tune-judge", "dataset", str(ratings), "--data", str(store.root), "--out", str(out_a)).returncode == 0
    val = orjson.loads((out_a / "split.json").read_bytes())["items"]["validation"]
    rows = _rows(ratings)
    for r in rows:
        if r["item"] == val[0]:
            r["instruction"] = 1 if r["instruction"] > 3 else 5
    changed = tmp_path / "changed.jsonl"
    changed.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    assert hilite("tune-judge", "dataset", str(changed), "--data", str(store.root), "--out", str(out_b)).returncode == 0
    assert (out_a / "train" / "metadata.jsonl").read_bytes() == (out_b / "train" / "metadata.jsonl").read_bytes()
    assert (out_a / "human" / "validation.jsonl").read_bytes() != (out_b / "human" / "validation.jsonl").read_bytes()


def test_unknown_item_is_an_error_naming_it_and_the_rest_go_through(rated_store, tmp_path: Path) -> None:
    store, ratings = rated_store
    with ratings.open("ab") as fh:
        fh.write(orjson.dumps({"item": "ghost", "rater": "ann", "instruction": 5, "aesthetics": 5}) + b"\n")
    out = tmp_path / "set"
    res = hilite("tune-judge", "dataset", str(ratings), "--data", str(store.root), "--out", str(out))
    assert res.returncode == 1
    assert b"item 'ghost' is rated but the store holds no such rating item" in res.stderr
    meta = orjson.loads((out / "split.json").read_bytes())
    assert meta["counts"]["unknown_items"] == 1 and len(meta["items"]["train"]) + len(meta["items"]["validation"]) == 12


def test_refuses_a_set_without_low_scores_or_one_class(rated_store, tmp_path: Path) -> None:
    store, ratings = rated_store
    rows = [r for r in _rows(ratings) if int(r["item"][2:]) % 3 != 0]  # only the successes
    only_good = tmp_path / "good.jsonl"
    only_good.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    res = hilite("tune-judge", "dataset", str(only_good), "--data", str(store.root), "--out", str(tmp_path / "o"))
    assert res.returncode == 2
    assert b"one-class" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    mid = [{**r, "instruction": 3, "aesthetics": 3} if int(r["item"][2:]) % 3 == 0 else r for r in _rows(ratings)]
    no_low = tmp_path / "mid.jsonl"
    no_low.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in mid))
    res = hilite("tune-judge", "dataset", str(no_low), "--data", str(store.root), "--out", str(tmp_path / "p"))
    assert res.returncode == 2 and b"no low score" in res.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    res = hilite("tune-judge", "dataset", str(empty), "--data", str(store.root), "--out", str(tmp_path / "q"))
    assert res.returncode == 2 and b"split has no item" in res.stderr


def test_split_is_seeded_and_stratified() -> None:
    items = [f"i{k}" for k in range(20)]
    cats = {i: ("a" if k < 15 else "b") for k, i in enumerate(items)}
    first, again = split_items(items, cats, 3, 0.2), split_items(items, cats, 3, 0.2)
    assert first == again and first != split_items(items, cats, 4, 0.2)
    assert sum(cats[i] == "a" for i in first["validation"]) == 3 and sum(cats[i] == "b" for i in first["validation"]) == 1
