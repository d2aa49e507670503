"""--batch-api through the real SDKs against the loopback batch endpoints (Gemini batch mode, OpenAI
files + batches): a whole run, mixed per-request failures, an expired job, the uploaded-file path."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from pathlib import Path

import orjson
import pytest
from support.batch_configs import fast_configs
from support.loopback import Blocked, Loopback, RateLimited, Raw, Text, Truncated
from support.loopback_batch import Plan

from hilite_cli.providers import Ask, Provider, get_provider
from hilite_cli.providers.schemas import EditScores

SCORES = '{"InstructionAdherence": 4.5, "ImageAesthetic": 3.5}'
MakeProvider = Callable[..., Provider]


@pytest.fixture(params=["gemini", "openai"])
def make(request: pytest.FixtureRequest, server: Loopback, keys: str, tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch) -> MakeProvider:
    """A batch-enabled provider on the loopback server; its job ledger is tmp/out.batches.jsonl."""
    backend = request.param
    made: list[Provider] = []

    def build(**batch: object) -> Provider:
        fast_configs(tmp_path / f"configs{len(made)}", monkeypatch, **batch)
        spec = "gemini:gemini-2.5-flash" if backend == "gemini" else "openai:gpt-4.1"
        url = server.url if backend == "gemini" else server.openai_url
        provider = get_provider(spec, base_url=url, backoff_base=0.001, max_retries=1,
                                batch_state=tmp_path / "out.batches.jsonl")
        provider.batch.report = lambda line: None
        made.append(provider)
        return provider

    yield build
    for provider in made:
        provider.close()


def asks(n: int, png: bytes) -> list[Ask]:
    return [Ask(prompt=f"judge edit {i}", images=[png], expect="json", schema=EditScores) for i in range(n)]


def ledger(tmp_path: Path) -> list[dict]:
    return [orjson.loads(line) for line in (tmp_path / "out.batches.jsonl").read_bytes().splitlines()]


def test_whole_batch_run_answers_every_ask_then_a_rerun_submits_nothing(
    make: MakeProvider, server: Loopback, png: bytes, tmp_path: Path
) -> None:
    server.answer = lambda req: Text(SCORES, tokens=(1200, 30))
    provider = make()
    answers = provider.ask_many(asks(4, png))
    assert [a.status for a in answers] == ["ok"] * 4
    assert all(a.batch and not a.cached for a in answers)
    assert answers[0].value == EditScores(InstructionAdherence=4.5, ImageAesthetic=3.5)
    assert answers[0].usage is not None and answers[0].usage.input_tokens == 1200
    assert server.batches.creates == 1
    inner = [r for r in server.requests]
    assert len(inner) == 4 and inner[0].images() == [png]  # the SDK's wire format carried the image
    events = ledger(tmp_path)
    assert [e["event"] for e in events] == ["submitted", "ended"] and events[1]["retry"] == []
    again = make().ask_many(asks(4, png))  # a re-run: all from the cache, no call, no job
    assert [a.status for a in again] == ["ok"] * 4 and all(a.cached for a in again)
    assert server.batches.creates == 1 and len(server.requests) == 4


def test_mixed_per_request_failures_are_typed_and_only_transient_ones_go_again(
    make: MakeProvider, server: Loopback, png: bytes, tmp_path: Path
) -> None:
    server.script(Text(SCORES), Blocked(), Truncated('{"Instruction'), Text("not json"), RateLimited(),
                  Raw(500, {"error": {"code": 500, "message": "boom"}}))
    provider = make()
    batch = asks(6, png)
    answers = provider.ask_many(batch)
    assert [a.status for a in answers] == ["ok", "blocked", "truncated", "unparsed", "http_error", "http_error"]
    assert answers[3].raw == "not json" and answers[3].value is None  # the strict parser, raw kept
    assert "429" in answers[4].reason and "500" in answers[5].reason
    ended, one_off = ledger(tmp_path)[-2:]
    assert len(ended["retry"]) == 2  # the 429 and the 500 go again as failed requests
    assert one_off["event"] == "one_off" and len(one_off["keys"]) == 1  # the safety block, once
    server.script(Text(SCORES), Text(SCORES), Text(SCORES))
    second = make().ask_many(batch)
    assert [a.status for a in second] == ["ok", "ok", "truncated", "unparsed", "ok", "ok"]
    # blocked and cut-off answers are not cached (issue 11; prose is). The cut-off one is collected again
    # from its finished job, which costs nothing; the one-off block (issue 29) goes out again in a new
    # job with the 429 and the 500
    assert [a.cached for a in second] == [True, False, False, True, False, False]
    assert server.batches.creates == 2
    assert len(server.batches.jobs[list(server.batches.jobs)[-1]].keys) == 3  # the block, the 429, the 500


def test_expired_batch_scores_nothing_and_its_requests_are_submitted_again(
    make: MakeProvider, server: Loopback, png: bytes, tmp_path: Path
) -> None:
    server.answer = lambda req: Text(SCORES)
    server.batches.plan(Plan(outcome="expired", polls=2, answered=1))
    provider = make()
    batch = asks(3, png)
    answers = provider.ask_many(batch)
    expired = [a for a in answers if a.status == "http_error"]
    assert all("expired" in a.reason and a.value is None for a in expired)
    # OpenAI hands back what finished before the window closed; Gemini's expired jobs return nothing.
    answered = 1 if provider.name == "openai" else 0
    assert len(expired) == 3 - answered
    assert ledger(tmp_path)[-1]["state"] == "expired" and len(ledger(tmp_path)[-1]["retry"]) == 3 - answered
    again = make().ask_many(batch)
    assert [a.status for a in again] == ["ok"] * 3
    assert server.batches.creates == 2
    assert len(server.batches.jobs[list(server.batches.jobs)[-1]].keys) == 3 - answered


def test_failed_job_makes_every_request_retryable(make: MakeProvider, server: Loopback, png: bytes) -> None:
    server.answer = lambda req: Text(SCORES)
    server.batches.plan(Plan(outcome="failed"))
    answers = make().ask_many(asks(2, png))
    assert [a.status for a in answers] == ["http_error"] * 2 and all("failed" in a.reason for a in answers)
    assert [a.status for a in make().ask_many(asks(2, png))] == ["ok", "ok"]


def test_a_job_still_running_answers_timeout_and_a_later_call_collects_it_without_resubmitting(
    make: MakeProvider, server: Loopback, png: bytes
) -> None:
    server.answer = lambda req: Text(SCORES)
    server.batches.plan(Plan(polls=10**6))
    first = make(max_wait=0.0).ask_many(asks(2, png))
    assert [a.status for a in first] == ["timeout"] * 2 and "--resume" in first[0].reason
    job = server.batches.jobs[list(server.batches.jobs)[0]]
    job.plan.polls = 0  # the provider finished it meanwhile
    second = make().ask_many(asks(2, png))
    assert [a.status for a in second] == ["ok", "ok"]
    assert server.batches.creates == 1


def test_gemini_requests_above_the_inline_limit_go_up_as_a_jsonl_file(
    server: Loopback, keys: str, png: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast_configs(tmp_path / "configs", monkeypatch, inline_limit_bytes=100)
    server.answer = lambda req: Text(SCORES)
    provider = get_provider("gemini:gemini-2.5-flash", base_url=server.url, batch_state=tmp_path / "b.jsonl")
    provider.batch.report = lambda line: None
    try:
        answers = provider.ask_many(asks(3, png))
    finally:
        provider.close()
    assert [a.status for a in answers] == ["ok"] * 3
    paths = [path for _, path in server.batches.calls]
    assert any(p.startswith("/upload/") for p in paths) and any(p.endswith(":download") for p in paths)
    job = next(iter(server.batches.jobs.values()))
    assert job.via_file and server.requests[0].images() == [png]


def test_a_broken_reply_in_a_batch_keeps_its_own_line_as_raw(make: MakeProvider, server: Loopback, png: bytes) -> None:
    """A reply the SDK cannot read inside a batch job keeps that request's own line as raw, not the last
    HTTP body (the whole results file, or a poll) as a plain request would."""
    provider = make()
    broken = SimpleNamespace(candidates=5, prompt_feedback=None, choices=5, usage=None, usage_metadata=None)
    answer = provider.read_response(asks(1, png)[0], broken, body=lambda: '{"own": "line"}')
    assert answer.status == "unparsed" and answer.raw == '{"own": "line"}'
