"""Token usage and cost: tokens from the SDKs' usage metadata land in answers, the cache and the
summary; the estimated cost is checked on a hand-computed case; an unknown price is null, not 0."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest
from PIL import Image
from support.batch_configs import fast_configs
from support.cli import hilite
from support.loopback import Loopback, Text

from hilite_cli.providers import Ask, get_provider
from hilite_cli.providers.cache import MIGRATIONS, ResponseCache
from hilite_cli.providers.pricing import estimate, summary, summary_line
from hilite_cli.providers.usage import Usage, UsageMeter


def test_cost_of_interactive_batch_and_cached_answers_by_hand() -> None:
    """gemini-2.5-flash at $0.30 in / $2.50 out per 1M tokens, batch 50 % off:
    3 interactive answers of 1000 in + 200 out: 3000 x 0.30 + 600 x 2.50 = 900 + 1500 = 2400 µ$;
    2 batch answers of the same: (2000 x 0.30 + 400 x 2.50) x 0.5 = (600 + 1000) / 2 = 800 µ$;
    cached answers are free: $0.0032 in all."""
    table = {"gemini:gemini-2.5-flash": {"input_per_1m": 0.30, "output_per_1m": 2.50, "batch_discount": 0.5}}
    meter = UsageMeter("gemini", "gemini-2.5-flash")
    for _ in range(3):
        meter.record(Usage(input_tokens=1000, output_tokens=200), cached=False, batch=False)
    for _ in range(2):
        meter.record(Usage(input_tokens=1000, output_tokens=200), cached=False, batch=True)
    meter.record(Usage(input_tokens=1000, output_tokens=200), cached=True, batch=False)
    stats = summary(meter, table)
    assert stats["cost_usd"] == pytest.approx(0.0032, abs=1e-12)
    assert (stats["calls"], stats["batch_calls"], stats["cached"]) == (5, 2, 1)
    assert (stats["input_tokens"], stats["output_tokens"]) == (5000, 1000)
    assert summary_line("validate", stats) == (
        "validate: gemini:gemini-2.5-flash: 5 calls (2 batch), 1 cached, 5000 in / 1000 out tokens, est. $0.0032"
    )


def test_unknown_price_or_missing_token_counts_make_the_cost_null_with_a_reason() -> None:
    meter = UsageMeter("openai", "Qwen/Qwen2.5-VL-72B-Instruct")
    meter.record(Usage(input_tokens=10, output_tokens=5), cached=False, batch=False)
    cost = estimate(meter, {})
    assert cost.usd is None and "no price for openai:Qwen/Qwen2.5-VL-72B-Instruct" in cost.reason
    table = {"openai:gpt-4.1": {"input_per_1m": 2.0, "output_per_1m": 8.0}}
    counted = UsageMeter("openai", "gpt-4.1")
    counted.record(None, cached=False, batch=False)
    cost = estimate(counted, table)
    assert cost.usd is None and "1 answers came without token counts" in cost.reason
    assert "cost unknown (1 answers came without token counts)" in summary_line("route", summary(counted, table))
    assert estimate(UsageMeter("openai", "gpt-4.1"), {}).usd == 0.0  # asked nothing: nothing spent


@pytest.mark.parametrize("backend", ["gemini", "openai"])
def test_tokens_from_the_sdk_reach_the_answer_the_cache_and_the_meter(backend: str, server: Loopback, keys: str) -> None:
    server.answer = lambda req: Text("yes", tokens=(321, 7))
    spec = "gemini:gemini-2.5-flash" if backend == "gemini" else "openai:gpt-4.1"
    url = server.url if backend == "gemini" else server.openai_url
    provider = get_provider(spec, base_url=url)
    try:
        fresh = provider.ask(Ask(prompt="plausible?", expect="yesno"))
        cached = provider.ask(Ask(prompt="plausible?", expect="yesno"))
    finally:
        provider.close()
    assert fresh.usage == Usage(input_tokens=321, output_tokens=7) and not fresh.cached
    assert cached.cached and cached.usage == fresh.usage  # kept in the cache (migration 002)
    assert (provider.usage.interactive.answers, provider.usage.cached.answers) == (1, 1)
    assert (provider.usage.interactive.input_tokens, provider.usage.interactive.output_tokens) == (321, 7)


def test_migration_002_adds_token_columns_to_an_existing_cache(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        MIGRATIONS[0](db)
        db.execute("PRAGMA user_version = 1")
        db.execute("INSERT INTO responses VALUES ('k', 'gemini', 'm', 'ok', 'true', 'yes', NULL, 0)")
    cache = ResponseCache(path)
    try:
        row = cache.get("k")
        assert row["raw"] == "yes" and row["input_tokens"] is None and row["output_tokens"] is None
        cache.put("k2", backend="gemini", model="m", status="ok", value=b"true", raw="yes", reason=None,
                  input_tokens=5, output_tokens=1)
        assert (cache.get("k2")["input_tokens"], cache.get("k2")["output_tokens"]) == (5, 1)
    finally:
        cache.close()


ROUTE = ('{"intent": "general_editing", "instruction_prompt": "Make the sky stormy.", '
         '"source_prompt": "a photo", "target_prompt": "a photo with a stormy sky"}')


def test_a_stage_prints_the_cost_line_and_a_rerun_costs_nothing(
    server: Loopback, keys: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """3 routed tasks at 1000 in + 200 out on gpt-4.1 ($2 / $8 per 1M):
    3 x (1000 x 2 + 200 x 8) µ$ = 3 x 3600 µ$ = $0.0108."""
    configs = fast_configs(tmp_path / "configs", monkeypatch)
    server.answer = lambda req: Text(ROUTE, tokens=(1000, 200))
    Image.new("RGB", (16, 16), (90, 120, 200)).save(tmp_path / "p.png")
    (tmp_path / "t.jsonl").write_bytes(b"".join(
        orjson.dumps({"id": f"t{i}", "image": "p.png", "instruction": f"make the sky stormy {i}"}) + b"\n"
        for i in range(3)))
    env = {"HILITE_CONFIG_DIR": str(configs)}
    args = ("route", "t.jsonl", "--provider", "openai:gpt-4.1", "--base-url", server.openai_url, "--no-progress",
            "-o", "r.jsonl")
    first = hilite(*args, cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr.decode()
    assert ("route: openai:gpt-4.1: 3 calls, 0 cached, 3000 in / 600 out tokens, est. $0.0108"
            in first.stderr.decode())
    again = hilite(*args[:-2], "-o", "r2.jsonl", cwd=tmp_path, env=env)
    assert "route: openai:gpt-4.1: 0 calls, 3 cached, 0 in / 0 out tokens, est. $0.0000" in again.stderr.decode()
    assert len(server.requests) == 3
