"""`hilite edit` and `hilite mine` with hosted editors, as a user with only API keys runs them."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from support.cli import hilite
from support.photos import save_photo

GEMINI = "gemini-image:gemini-2.5-flash-image"
OPENAI = "openai-image:gpt-image-1"
GEMINI_EDIT_USD = (300 * 0.30 + 1290 * 30.0) / 1e6  # one attempt at the loopback's token counts
OPENAI_EDIT_USD = (300 * 10.0 + 1290 * 40.0) / 1e6


def _lines(path: Path) -> list[dict]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()] if path.exists() else []


def test_one_off_edit_with_both_hosted_editors_gives_slots_a_sheet_and_the_cost(server, tmp_path: Path) -> None:
    img = save_photo(tmp_path, "astronaut", 48)
    res = hilite("edit", str(img), "make it winter", "--models", f"{GEMINI},{OPENAI}", "--attempts", "2",
                 "--out", "out", cwd=tmp_path)
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    err = res.stderr.decode()
    cands = _lines(tmp_path / "out" / "candidates.jsonl")
    assert sorted(c["slot"] for c in cands) == ["A", "B", "C", "D"]
    assert {c["model"] for c in cands} == {GEMINI, OPENAI}
    assert all((tmp_path / "out" / c["sheet"]).is_file() for c in cands)
    by_model = {m: sorted((c for c in cands if c["model"] == m), key=lambda c: c["seed"]) for m in (GEMINI, OPENAI)}
    assert [c["attempt"] for c in by_model[GEMINI]] == [1, 2]
    assert by_model[GEMINI][0]["cost_usd"] == pytest.approx(GEMINI_EDIT_USD)
    assert by_model[OPENAI][0]["cost_usd"] == pytest.approx(OPENAI_EDIT_USD)
    assert by_model[OPENAI][0]["provenance"]["revised_prompt"] == "a winter scene"
    assert by_model[GEMINI][0]["licence"]["commercial_use"] is True
    assert err.count(f"edit: {GEMINI}: 2 calls, 0 cached, 600 in / 2580 out tokens, est. ${2 * GEMINI_EDIT_USD:.4f}") == 1
    assert f"edit: {OPENAI}: 2 calls, 0 cached" in err
    assert len([r for r in server.requests if r.method == "POST"]) == 4


def test_manifest_edit_refusal_is_one_error_record_per_attempt(server, tmp_path: Path) -> None:
    from support.loopback import ImageRefused

    img = save_photo(tmp_path, "coffee", 32)
    (tmp_path / "t.jsonl").write_bytes(orjson.dumps({"id": "t1", "image": img.name, "instruction": "make it sepia"}) + b"\n")
    server.script(ImageRefused("not allowed here"))
    res = hilite("edit", "t.jsonl", "--models", OPENAI, "--attempts", "2", "--concurrency", "1", "--out", "e",
                 "-o", "c.jsonl", cwd=tmp_path)
    assert res.returncode == 1
    [cand] = _lines(tmp_path / "c.jsonl")
    [error] = [r for r in _lines(tmp_path / "c.jsonl.errors.jsonl") or _lines(tmp_path / "c.errors.jsonl")]
    assert cand["seed"] == 1 and cand["slot"]
    assert error["seed"] == 0 and error["error"]["kind"] == "blocked" and "not allowed here" in error["error"]["message"]


def test_mine_with_a_hosted_editor_stops_on_spend_with_cost_and_provenance(server, tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    for name in ("astronaut", "coffee"):
        save_photo(tmp_path / "photos", name, size=48)
    (tmp_path / "e.txt").write_text("make it sepia\nmake it brighter\n")
    res = hilite("mine", "--images", "photos", "--edits", "e.txt", "--editor", GEMINI, "--preset", "small",
                 "--no-gate", "--prefilter", "offline", "--no-lowlevel", "--keep-rejected", "--budget-usd", "0.05",
                 "--no-overlap", "--post-workers", "1", "--no-progress", "-o", "pool.jsonl", "--stats", "stats.json",
                 "--out", "mined", cwd=tmp_path)
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    stats = orjson.loads((tmp_path / "stats.json").read_bytes())
    # One group = M=2 attempts = 2 requests = $0.07758 >= $0.05: no second group is drawn.
    assert stats["budget"]["stopped_by"] == "budget" and stats["jobs"]["sampled"] == 2
    assert stats["budget"]["spent_usd"] == pytest.approx(2 * GEMINI_EDIT_USD)
    pool = _lines(tmp_path / "pool.jsonl")
    assert len(pool) == 2 and all(r["model"] == GEMINI for r in pool)
    assert all(r["cost_usd"] == pytest.approx(GEMINI_EDIT_USD) for r in pool)
    assert {r["attempt"] for r in pool} == {1, 2}
    assert all(r["provenance"]["model_version"] == "gemini-2.5-flash-image" for r in pool)
    assert all(r["licence"]["name"].startswith("Gemini API") for r in pool)
    assert res.stderr.decode().count(f"mine: {GEMINI}: 2 calls") == 1


def test_mine_refuses_hosted_editor_without_price_under_budget_and_with_batch_api(server, tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    save_photo(tmp_path / "photos", "coffee", size=32)
    (tmp_path / "e.txt").write_text("make it sepia\n")
    base = ("mine", "--images", "photos", "--edits", "e.txt", "--preset", "small", "--no-gate", "--prefilter",
            "offline", "--no-progress", "-o", "pool.jsonl")
    res = hilite(*base, "--editor", "openai-image:gpt-image-1.5", "--budget-usd", "1", cwd=tmp_path)
    assert res.returncode == 2 and "--budget-usd: no price for openai-image:gpt-image-1.5" in res.stderr.decode()
    res = hilite(*base, "--editor", GEMINI, "--batch-api", cwd=tmp_path)
    assert res.returncode == 2 and "--batch-api with gemini-image:" in res.stderr.decode()
    server.known_models = {"gemini-2.5-flash-image"}
    res = hilite(*base, "--editor", "gemini-image:gemini-9-imaginary", cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr.decode()
    assert res.stderr.decode().count("does not know the image model 'gemini-9-imaginary'") == 1


def test_mine_makes_sources_with_a_hosted_t2i_model(server, tmp_path: Path) -> None:
    spec = {"t2i_prompt": "a red bicycle against a wall", "edits": ["make it blue"]}
    (tmp_path / "specs.jsonl").write_bytes(orjson.dumps(spec) + b"\n")
    res = hilite("mine", "specs.jsonl", "--t2i", "gemini-image:gemini-2.5-flash-image", "--editor", OPENAI,
                 "--preset", "small", "--n-sources", "1", "--attempts", "1", "--no-gate", "--prefilter", "offline",
                 "--no-lowlevel", "--keep-rejected", "--no-progress", "-o", "pool.jsonl", "--stats", "stats.json",
                 "--out", "mined", cwd=tmp_path)
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    posts = [r for r in server.requests if r.method == "POST"]
    assert posts[0].kind == "gemini" and posts[0].text() == "a red bicycle against a wall" and not posts[0].images()
    assert posts[1].path.endswith("/images/edits")
    [record] = _lines(tmp_path / "pool.jsonl")
    stats = orjson.loads((tmp_path / "stats.json").read_bytes())
    assert stats["settings"]["t2i"] == "gemini-t2i:gemini-2.5-flash-image" and record["model"] == OPENAI
    err = res.stderr.decode()
    assert "mine: gemini-image:gemini-2.5-flash-image: 1 calls" in err and f"mine: {OPENAI}: 1 calls" in err


def test_a_mask_of_another_size_is_refused_naming_both_sizes(server, tmp_path: Path) -> None:
    from PIL import Image

    img = save_photo(tmp_path, "coffee", 48)
    Image.new("L", (24, 20), 255).save(tmp_path / "mask.png")
    res = hilite("edit", str(img), "make the cup red", "--models", OPENAI, "--mask", "mask.png", "--out", "out",
                 cwd=tmp_path)
    assert res.returncode == 1
    assert "the mask is 24x20 but the image is 48x48" in res.stderr.decode()
    [error] = _lines(tmp_path / "out" / "candidates.jsonl.errors.jsonl")
    assert error["error"]["kind"] == "bad_mask" and error["model"] == OPENAI
    assert not [r for r in server.requests if r.method == "POST"]
