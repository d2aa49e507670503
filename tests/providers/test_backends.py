"""The real google-genai and openai clients against the loopback server: every failure mode is typed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from support.loopback import Blocked, Loopback, RateLimited, Raw, Refusal, Received, Text, Trickle, Truncated

from hilite_cli.providers import Ask, Provider, get_provider
from hilite_cli.providers.schemas import EditScores

SCORES = '{"InstructionAdherence": 4.5, "ImageAesthetic": 3.5}'
MakeProvider = Callable[..., Provider]


def judge_ask(*images: bytes) -> Ask:
    return Ask(prompt="judge this edit", images=list(images), expect="json", schema=EditScores)


def test_ok_json_sends_images_schema_temperature_and_key(make: MakeProvider, server: Loopback, png: bytes,
                                                         png2: bytes, keys: str) -> None:
    server.script(SCORES)
    answer = make().ask(judge_ask(png, png2))
    assert answer.status == "ok" and answer.value == EditScores(InstructionAdherence=4.5, ImageAesthetic=3.5)
    assert answer.raw == SCORES and not answer.cached
    req = server.requests[0]
    assert req.images() == [png, png2] and req.image_mimes() == ["image/png", "image/jpeg"]
    assert req.text() == "judge this edit"
    if req.kind == "gemini":
        assert req.model == "gemini-2.5-flash" and req.path.endswith("/models/gemini-2.5-flash:generateContent")
        assert req.headers["x-goog-api-key"] == keys
        config = req.body["generationConfig"]
        assert config["temperature"] == 0.0 and config["responseMimeType"] == "application/json"
        assert set(config["responseSchema"]["properties"]) == {"InstructionAdherence", "ImageAesthetic"}
    else:
        assert req.path == "/v1/chat/completions"
        assert req.headers["authorization"] == f"Bearer {keys}"
        assert req.body["temperature"] == 0.0
        fmt = req.body["response_format"]
        assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "EditScores"
        assert fmt["json_schema"]["strict"] is True


@pytest.mark.parametrize(
    ("reply", "status", "attempts"),
    [
        (Blocked(), "blocked", 3),
        (Truncated('{"InstructionAdherence": 4.'), "truncated", 1),
        (Text('{"InstructionAdherence": 4.5, "ImageAesthetic": '), "unparsed", 3),
        (Text("Sure! Adherence 4.5, aesthetics 3.5."), "unparsed", 1),
        (Text('{"InstructionAdherence": 0, "ImageAesthetic": 9}'), "unparsed", 1),
        (Raw(400, {"error": {"code": 400, "message": "bad request", "status": "INVALID_ARGUMENT"}}), "http_error", 1),
    ],
)
def test_failures_are_typed_and_keep_raw(make: MakeProvider, server: Loopback, png: bytes, reply: object,
                                         status: str, attempts: int) -> None:
    server.script(*[reply] * attempts)
    answer = make().ask(judge_ask(png))
    assert answer.status == status and answer.value is None and answer.reason
    if isinstance(reply, (Text, Truncated)):
        assert answer.raw == reply.text
    # deterministic failures are not retried; a safety block or broken JSON is, up to max_retries (issue 29),
    # and stays typed when they run out
    assert len(server.requests) == attempts
    assert ("gave up after 3 attempts" in answer.reason) == (attempts == 3)


def test_gemini_finish_reason_safety_is_blocked(server: Loopback, keys: str, png: bytes) -> None:
    server.script(Blocked(via_finish=True))
    answer = get_provider("gemini", base_url=server.url, use_cache=False, max_retries=0).ask(judge_ask(png))
    assert answer.status == "blocked" and "SAFETY" in answer.reason


def test_openai_refusal(server: Loopback, keys: str, png: bytes) -> None:
    server.script(Refusal("I can't judge that."))
    answer = get_provider("openai", base_url=server.openai_url, use_cache=False).ask(judge_ask(png))
    assert answer.status == "refused" and answer.raw == "I can't judge that." and answer.value is None


def test_429_is_retried_honouring_retry_after(make: MakeProvider, server: Loopback, png: bytes) -> None:
    server.script(RateLimited(retry_after=7), SCORES)
    provider = make()
    waits: list[float] = []
    provider.sleep = waits.append
    answer = provider.ask(judge_ask(png))
    assert answer.status == "ok" and len(server.requests) == 2
    assert waits and waits[0] >= 7


def test_retry_after_beyond_backoff_max_is_waited_in_full(make: MakeProvider, server: Loopback, png: bytes) -> None:
    server.script(RateLimited(retry_after=120), SCORES)
    provider = make()
    assert provider.settings.backoff_max < 120
    waits: list[float] = []
    provider.sleep = waits.append
    assert provider.ask(judge_ask(png)).status == "ok"
    assert waits and waits[0] >= 120


def test_retry_after_beyond_the_ceiling_gives_up_at_once(make: MakeProvider, server: Loopback, png: bytes) -> None:
    server.script(RateLimited(retry_after=3600), SCORES)
    provider = make()
    waits: list[float] = []
    provider.sleep = waits.append
    answer = provider.ask(judge_ask(png))
    assert answer.status == "http_error" and "asked to wait 3600 s" in answer.reason
    assert waits == [] and len(server.requests) == 1


def test_persistent_500_gives_up_as_http_error(make: MakeProvider, server: Loopback, png: bytes) -> None:
    error = Raw(500, {"error": {"code": 500, "message": "boom", "status": "INTERNAL"}})
    server.script(error, error, error)
    provider = make(max_retries=2)
    waits: list[float] = []
    provider.sleep = waits.append
    answer = provider.ask(judge_ask(png))
    assert answer.status == "http_error" and "500" in answer.reason and "3 attempts" in answer.reason
    assert len(server.requests) == 3
    assert waits[1] > waits[0] * 0.9  # exponential: the second wait is about twice the first (jitter 50-100 %)


def test_slow_reply_times_out(make: MakeProvider, server: Loopback, png: bytes) -> None:
    server.script(Text(SCORES, delay=2.0), Text(SCORES, delay=2.0))
    answer = make(timeout=0.2, max_retries=1).ask(judge_ask(png))
    assert answer.status == "timeout" and answer.value is None
    assert len(server.requests) == 2


def test_timeout_is_a_deadline_for_the_whole_attempt(make: MakeProvider, server: Loopback, png: bytes) -> None:
    """A server sending one byte every 0.2 s never lets a read time out; the attempt still ends at its deadline."""
    server.script(Trickle(SCORES, interval=0.2))
    started = time.monotonic()
    answer = make(timeout=1.0, max_retries=0).ask(judge_ask(png))
    elapsed = time.monotonic() - started
    assert answer.status == "timeout" and answer.value is None and "1s" in answer.reason
    assert elapsed < 3.0  # the whole body would take over 30 s to trickle out
    assert len(server.requests) == 1


BROKEN_BODIES = [
    "<html><body><h1>502 Bad Gateway</h1>nginx proxy</body></html>",
    "",
    "[1, 2, 3]",
    '"just a string"',
    '{"candidates": "x", "choices": "x"}',
    '{"candidates": [{"content": "x"}], "choices": [{"message": 3}]}',
    '{"candidates": [{"content": {"parts": [{"text": 5}]}}],'
    ' "choices": [{"index": 0, "message": {"role": "assistant", "content": 5}, "finish_reason": "stop"}]}',
    "[" * 50_000 + "]" * 50_000,
]


@pytest.mark.parametrize("body", BROKEN_BODIES, ids=["html", "empty", "list", "string", "str-fields", "wrong-nesting",
                                                     "number-text", "nested-too-deep"])
def test_a_200_that_is_not_the_sdk_json_is_unparsed_with_the_body_kept(make: MakeProvider, server: Loopback,
                                                                       png: bytes, body: str) -> None:
    server.script(Raw(200, body), Raw(200, body))
    provider = make(max_retries=0)  # retried within the run otherwise: tests/providers/test_retry_one_off.py
    answer = provider.ask(judge_ask(png))
    assert answer.status == "unparsed" and answer.value is None and answer.retryable
    assert answer.raw == body[:64 * 1024] and "not a valid" in answer.reason
    assert len(server.requests) == 1
    again = provider.ask(judge_ask(png))  # a broken reply is never cached: the re-run asks again
    assert not again.cached and again.raw == answer.raw and len(server.requests) == 2


def test_a_body_that_cannot_be_decoded_is_a_typed_answer(make: MakeProvider, server: Loopback, png: bytes) -> None:
    server.script(Raw(200, b"not gzip at all", headers={"Content-Encoding": "gzip"}))
    answer = make(max_retries=0).ask(judge_ask(png))
    assert answer.status == "unparsed" and answer.retryable and "cannot be decoded" in answer.reason
    assert answer.raw == "not gzip at all"  # the bytes as they came, kept


def test_rerun_hits_the_cache(make: MakeProvider, server: Loopback, png: bytes) -> None:
    server.answer = lambda req: SCORES if "judge" in req.text() else "Yes"
    asks = [judge_ask(png), Ask(prompt="is it nice?", images=[png], expect="yesno")]
    first = make().ask_many(asks)
    assert [a.status for a in first] == ["ok", "ok"] and not any(a.cached for a in first)
    sent = len(server.requests)
    second = make().ask_many(asks)
    assert len(server.requests) == sent  # zero requests reached the server
    assert all(a.cached for a in second)
    assert [a.value for a in second] == [a.value for a in first]


@pytest.mark.parametrize(("setting", "value"), [("temperature", 0.9), ("max_output_tokens", 123)])
def test_changing_a_configured_default_misses_the_cache(make: MakeProvider, server: Loopback, png: bytes, tmp_path,
                                                       monkeypatch: pytest.MonkeyPatch, setting: str,
                                                       value: float) -> None:
    import shutil

    from hilite_cli.config import config_dir, load_config

    server.answer = lambda req: SCORES
    assert make().ask(judge_ask(png)).status == "ok"  # temperature and max_output_tokens from the config
    sent = len(server.requests)
    configs = tmp_path / "configs"
    shutil.copytree(config_dir(), configs)
    text = (configs / "providers.toml").read_text()
    if setting == "temperature":
        text = text.replace("temperature = 0.0", f"temperature = {value}")
    else:
        text = text.replace("max_output_tokens = 4096", f"max_output_tokens = {value}")
    (configs / "providers.toml").write_text(text)
    monkeypatch.setenv("HILITE_CONFIG_DIR", str(configs))
    load_config.cache_clear()
    try:
        answer = make().ask(judge_ask(png))
    finally:
        monkeypatch.delenv("HILITE_CONFIG_DIR")
        load_config.cache_clear()
    assert not answer.cached and len(server.requests) == sent + 1
    req = server.requests[-1]
    if setting == "temperature":
        got = req.body["generationConfig"]["temperature"] if req.kind == "gemini" else req.body["temperature"]
    else:
        got = req.body["generationConfig"]["maxOutputTokens"] if req.kind == "gemini" else req.body["max_tokens"]
    assert got == value


def test_deterministic_failures_are_cached_transient_ones_are_not(make: MakeProvider, server: Loopback,
                                                                  png: bytes) -> None:
    wrong = '{"InstructionAdherence": 0, "ImageAesthetic": 9}'  # a complete answer, off the scale
    server.script(Text(wrong))
    assert make().ask(judge_ask(png)).status == "unparsed"
    again = make().ask(judge_ask(png))
    assert again.status == "unparsed" and again.cached and again.raw == wrong
    error = Raw(503, {"error": {"code": 503, "message": "busy"}})
    server.script(error, SCORES)
    other = Ask(prompt="another", images=[png], expect="json", schema=EditScores)
    assert make(max_retries=0).ask(other).status == "http_error"
    assert make(max_retries=0).ask(other).status == "ok"  # the failure was not cached


def test_ask_many_preserves_order_and_bounds_concurrency(make: MakeProvider, server: Loopback) -> None:
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def answer(req: Received) -> str:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return req.text().upper()

    server.answer = answer
    answers = make(concurrency=3, use_cache=False).ask_many([Ask(prompt=f"p{i}") for i in range(12)])
    assert [a.value for a in answers] == [f"P{i}" for i in range(12)]
    assert 1 < state["peak"] <= 3


def test_reasoning_models_get_effort_and_no_temperature(server: Loopback, keys: str) -> None:
    server.script("ok")
    provider = get_provider("openai:o3", base_url=server.openai_url, use_cache=False)
    assert provider.ask(Ask(prompt="design", reasoning_effort="high", temperature=0.7)).status == "ok"
    body = server.requests[0].body
    assert body["reasoning_effort"] == "high" and "temperature" not in body and "max_completion_tokens" in body


@pytest.mark.parametrize(
    "reply",
    [Text('{"InstructionAdherence": 4.5, "ImageAesthetic": '), Text('{"InstructionAdherence": 4.5,, }'),
     Truncated('{"Instruc'), Blocked(), Blocked(via_finish=True), Raw(200, "")],
    ids=["cut-json", "malformed-json", "max-tokens", "safety-prompt", "safety-finish", "empty-body"],
)
def test_broken_or_flaky_answers_are_not_cached(make: MakeProvider, server: Loopback, png: bytes,
                                                reply: object) -> None:
    server.script(reply, SCORES)
    first = make(max_retries=0).ask(judge_ask(png))  # no retry within the run: the cache policy alone
    assert first.status != "ok" and not first.cached
    second = make().ask(judge_ask(png))  # a re-run (or --resume) asks again and gets the real answer
    assert second.status == "ok" and not second.cached and len(server.requests) == 2
    assert make().ask(judge_ask(png)).cached  # and that answer is the one kept
