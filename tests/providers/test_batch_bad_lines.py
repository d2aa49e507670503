"""Issue 29: one bad line in a batch results file is that request's typed error, the rest of the job is
read; a one-off bad answer collected from a finished job goes out again in a new job (once; again on
--retry-failed), while good answers are never paid for twice."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from support.batch_configs import fast_configs
from support.loopback import Blocked, Loopback, Raw, Received, Reply, Text
from support.loopback_batch import Plan

from hilite_cli.providers import Ask, Provider, get_provider
from hilite_cli.providers.schemas import EditScores

SCORES = '{"InstructionAdherence": 4.5, "ImageAesthetic": 3.5}'
MakeProvider = Callable[..., Provider]


@pytest.fixture(params=["gemini", "openai"])
def make(request: pytest.FixtureRequest, server: Loopback, keys: str, tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch) -> MakeProvider:
    """A batch-enabled provider on the loopback server (Gemini through an uploaded responses file)."""
    backend = request.param
    made: list[Provider] = []

    def build(**options: object) -> Provider:
        fast_configs(tmp_path / f"configs{len(made)}", monkeypatch, inline_limit_bytes=100)
        spec = "gemini:gemini-2.5-flash" if backend == "gemini" else "openai:gpt-4.1"
        url = server.url if backend == "gemini" else server.openai_url
        provider = get_provider(spec, base_url=url, backoff_base=0.001, max_retries=1,
                                batch_state=tmp_path / "out.batches.jsonl", **options)
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


def answering(bad: str, reply: Reply) -> Callable[[Received], Reply]:
    """Scores for every request but the one whose prompt is `bad`, which gets `reply`."""
    return lambda req: reply if req.text() == bad else Text(SCORES)


def not_the_wire_format(kind: str) -> Raw:
    """Gemini: a `response` that is not an object; OpenAI: a 200 whose body is `{}`."""
    return Raw(200, 5) if kind == "gemini" else Raw(200, {})


def test_one_bad_line_is_that_requests_broken_reply_and_the_rest_of_the_job_is_read(
    make: MakeProvider, server: Loopback, png: bytes, tmp_path: Path
) -> None:
    provider = make()
    server.answer = answering("judge edit 3", not_the_wire_format(provider.name))
    answers = provider.ask_many(asks(8, png))
    assert [a.status for a in answers] == ["ok"] * 3 + ["unparsed"] + ["ok"] * 4
    bad = answers[3]
    assert bad.retryable and bad.batch and bad.value is None
    # the raw is that request's own reply: the 200 body, or Gemini's whole line (its response is no object)
    assert bad.raw == "{}" if provider.name == "openai" else orjson.loads(bad.raw)["response"] == 5
    assert "\n" not in bad.reason and "not a valid" in bad.reason
    assert next(iter(server.batches.jobs.values())).via_file  # Gemini's responses file, OpenAI's output file
    assert provider.usage.batch.answers == 8 and server.batches.creates == 1  # every answer counted once


def test_a_line_that_is_not_json_or_names_no_request_leaves_only_that_request_to_submit_again(
    make: MakeProvider, server: Loopback, png: bytes, tmp_path: Path
) -> None:
    def tear(data: bytes) -> bytes:
        lines = data.splitlines(keepends=True)
        return lines[0][:20] + b"\n" + b'{"no": "key"}\n' + b"".join(lines[1:])

    server.answer = lambda req: Text(SCORES)
    server.batches.plan(Plan(rewrite=tear))
    answers = make().ask_many(asks(4, png))
    assert sorted(a.status for a in answers) == ["http_error", "ok", "ok", "ok"]
    assert "without answering this request" in next(a.reason for a in answers if a.status == "http_error")
    assert len(ledger(tmp_path)[1]["retry"]) == 1
    again = make().ask_many(asks(4, png))
    assert [a.status for a in again] == ["ok"] * 4
    assert len(server.batches.jobs[list(server.batches.jobs)[-1]].keys) == 1  # only the torn one went again


@pytest.mark.parametrize("flaky", ["broken", "blocked"])
def test_a_one_off_bad_answer_goes_out_again_in_a_new_job_once_and_good_answers_never(
    make: MakeProvider, server: Loopback, png: bytes, tmp_path: Path, flaky: str
) -> None:
    provider = make()
    reply = Blocked() if flaky == "blocked" else not_the_wire_format(provider.name)
    server.answer = answering("judge edit 1", reply)
    batch = asks(3, png)
    first = provider.ask_many(batch)
    assert [a.status for a in first] == ["ok", "blocked" if flaky == "blocked" else "unparsed", "ok"]
    assert ledger(tmp_path)[-1]["event"] == "one_off"
    # --resume: the bad answer is not collected again from its job but asked again, alone, in a new job
    server.answer = lambda req: Text(SCORES)
    second = make().ask_many(batch)
    assert [a.status for a in second] == ["ok"] * 3 and [a.cached for a in second] == [True, False, True]
    assert server.batches.creates == 2 and len(server.batches.jobs[list(server.batches.jobs)[-1]].keys) == 1
    assert len(server.requests) == 4
    assert all(a.cached for a in make().ask_many(batch)) and server.batches.creates == 2


def test_a_request_bad_twice_is_collected_from_its_second_job_and_retry_failed_sends_it_again(
    make: MakeProvider, server: Loopback, png: bytes
) -> None:
    server.answer = answering("judge edit 0", Blocked())
    batch = asks(2, png)
    assert [a.status for a in make().ask_many(batch)] == ["blocked", "ok"]
    assert [a.status for a in make().ask_many(batch)] == ["blocked", "ok"]  # resubmitted once: blocked again
    assert server.batches.creates == 2
    third = make().ask_many(batch)  # by default no third job: the second job's answer is collected
    assert [a.status for a in third] == ["blocked", "ok"] and server.batches.creates == 2
    server.answer = lambda req: Text(SCORES)
    retried = make(reask_failed=True).ask_many(batch)  # --retry-failed: once more, the good one stays put
    assert [a.status for a in retried] == ["ok", "ok"] and server.batches.creates == 3
    assert len(server.batches.jobs[list(server.batches.jobs)[-1]].keys) == 1


def test_a_gemini_inline_job_the_sdk_cannot_read_is_read_one_response_at_a_time(
    server: Loopback, keys: str, png: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inline, one response that is not an object breaks the SDK's parse of the whole job (poll and
    results alike): the job's JSON is then read by hand, and only that request is a broken reply."""
    fast_configs(tmp_path / "configs", monkeypatch)
    server.answer = answering("judge edit 2", Raw(200, 5))
    provider = get_provider("gemini:gemini-2.5-flash", base_url=server.url, batch_state=tmp_path / "b.jsonl")
    provider.batch.report = lambda line: None
    try:
        answers = provider.ask_many(asks(4, png))
    finally:
        provider.close()
    assert not next(iter(server.batches.jobs.values())).via_file
    assert [a.status for a in answers] == ["ok", "ok", "unparsed", "ok"]
    assert "not a JSON object" in answers[2].reason and "\n" not in answers[2].reason
