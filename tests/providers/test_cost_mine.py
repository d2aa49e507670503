"""`mine --budget-usd`: the run stops drawing jobs once its pre-filter calls cost the budget, and the
stats carry the spend, checked by hand."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from support.batch_configs import fast_configs
from support.cli import hilite
from support.loopback import Loopback, Received, Text
from support.photos import save_photo

SCORES = '{"InstructionAdherence": 4.9, "ImageAesthetic": 4.9}'


def _priced_answers_and_photos(server: Loopback, tmp_path: Path) -> None:
    """A.2 scores at 1000 in + 200 out tokens, A.3/A.4 "yes" at 1000 in + 1 out; two photos, two edits."""

    def answer(request: Received) -> Text:
        if "InstructionAdherence" in request.text():
            return Text(SCORES, tokens=(1000, 200))
        return Text("yes", tokens=(1000, 1))

    server.answer = answer
    (tmp_path / "photos").mkdir()
    for name in ("astronaut", "coffee"):
        save_photo(tmp_path / "photos", name, size=48)
    (tmp_path / "e.txt").write_text("make it sepia\nmake it brighter\n")


def test_budget_usd_stops_the_run_on_provider_spend(
    server: Loopback, keys: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configs = fast_configs(tmp_path / "configs", monkeypatch)

    _priced_answers_and_photos(server, tmp_path)
    res = hilite("mine", "--images", "photos", "--edits", "e.txt", "--editor", "classic", "--preset", "small",
                 "--no-gate", "--prefilter", "openai:gpt-4.1", "--base-url", server.openai_url, "--budget-usd", "0.005",
                 "--no-overlap", "--post-workers", "1", "--no-progress", "-o", "pool.jsonl", "--stats", "stats.json",
                 "--out", "mined",
                 cwd=tmp_path, env={"HILITE_CONFIG_DIR": str(configs)})
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    stats = orjson.loads((tmp_path / "stats.json").read_bytes())
    # The classic editor is deterministic, so each (source, instruction) is one job: the first one's
    # A.2 + A.3 + A.4 already cost more than the budget, and no second job is drawn.
    assert stats["budget"]["stopped_by"] == "budget" and stats["jobs"]["sampled"] == 1
    # 3000 in x $2 + 202 out x $8 per 1M = 6000 + 1616 µ$ = $0.007616 >= $0.005
    usage = stats["provider_usage"][0]
    assert (usage["calls"], usage["cached"], usage["input_tokens"], usage["output_tokens"]) == (3, 0, 3000, 202)
    assert usage["cost_usd"] == pytest.approx(0.007616) and stats["budget"]["spent_usd"] == pytest.approx(0.007616)
    assert "mine: openai:gpt-4.1: 3 calls, 0 cached, 3000 in / 202 out tokens, est. $0.0076" in res.stderr.decode()


def test_budget_usd_needs_a_price_for_the_provider(server: Loopback, keys: str, tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    save_photo(tmp_path / "photos", "coffee", size=48)
    (tmp_path / "e.txt").write_text("make it sepia\n")
    res = hilite("mine", "--images", "photos", "--edits", "e.txt", "--editor", "classic", "--preset", "small",
                 "--no-gate", "--prefilter", "openai:my-own-vlm", "--base-url", server.openai_url, "--budget-usd", "1",
                 "--no-progress", "-o", "pool.jsonl", cwd=tmp_path)
    assert res.returncode == 2
    assert "--budget-usd: no price for openai:my-own-vlm in configs/providers.toml [prices]" in res.stderr.decode()


def test_budget_usd_counts_the_spend_of_earlier_runs(
    server: Loopback, keys: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each job costs $0.007616 (see above). Run 1 (budget $0.005) stops after one job; --resume with
    $0.01 starts from the $0.007616 on record, draws ONE more job (0.015232 >= 0.01) and stops; a
    third run with the same budget draws nothing. Counting only this run's spend, run 2 would draw two."""
    configs = fast_configs(tmp_path / "configs", monkeypatch)

    _priced_answers_and_photos(server, tmp_path)

    def run(budget: str, *extra: str) -> dict:
        res = hilite("mine", "--images", "photos", "--edits", "e.txt", "--editor", "classic", "--preset", "small",
                     "--no-gate", "--prefilter", "openai:gpt-4.1", "--base-url", server.openai_url, "--budget-usd",
                     budget, "--no-overlap", "--post-workers", "1", "--no-progress", "-o", "pool.jsonl", "--stats",
                     "stats.json", "--out", "mined", *extra, cwd=tmp_path, env={"HILITE_CONFIG_DIR": str(configs)})
        assert res.returncode == 0, res.stderr.decode()[-2000:]
        return orjson.loads((tmp_path / "stats.json").read_bytes())

    first = run("0.005")
    assert first["jobs"]["sampled"] == 1 and first["budget"]["spent_usd"] == pytest.approx(0.007616)
    assert first["budget"]["earlier_usd"] == 0.0
    second = run("0.01", "--resume")
    budget = second["budget"]
    assert second["jobs"]["sampled"] == 2 and budget["stopped_by"] == "budget"
    assert budget["earlier_usd"] == pytest.approx(0.007616) and budget["this_run_usd"] == pytest.approx(0.007616)
    assert budget["spent_usd"] == pytest.approx(0.015232) and budget["limit_usd"] == 0.01
    third = run("0.01", "--resume")
    assert third["jobs"]["sampled"] == 2 and third["budget"]["this_run_usd"] == 0.0
    assert third["budget"]["earlier_usd"] == pytest.approx(0.015232)
