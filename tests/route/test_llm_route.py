"""`route` with Gemini and OpenAI(-compatible) routers through the real SDKs and the loopback server."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import pytest
from support.loopback import Blocked, Loopback, RateLimited, Received, Refusal, Text, Truncated

from hilite_cli.prompts import prompt_version
from hilite_cli.records import RecordError
from hilite_cli.stages.route import RouteStage

KEY = "route-test-key-9f8e7d6c"
DECISION = {
    "intent": "object_swap",
    "instruction_prompt": "Replace the grey cat on the sofa with a small brown dachshund.",
    "source_prompt": "A grey cat sleeping on a blue sofa.",
    "target_prompt": "A small brown dachshund sleeping on a blue sofa.",
}


@pytest.fixture(params=[("gemini:gemini-2.5-flash", "url"), ("openai:gpt-4.1", "openai_url")], ids=["gemini", "openai"])
def stage_factory(request: pytest.FixtureRequest, server: Loopback, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    spec, attr = request.param
    stages: list[RouteStage] = []

    def build(**options: object) -> RouteStage:
        stage = RouteStage(spec, base_url=getattr(server, attr), max_retries=1, **options)
        stage.setup()
        stage.provider.settings = dataclasses.replace(stage.provider.settings, backoff_base=0.001)
        stages.append(stage)
        return stage

    yield build
    for stage in stages:
        stage.teardown()


def tasks(images: dict[str, str], n: int = 3) -> list[dict]:
    return [{"id": f"t{i}", "image": images["photo"], "instruction": f"swap the cat for a dog #{i}"} for i in range(n)]


def test_llm_route_records_and_cache(stage_factory, server: Loopback, images: dict[str, str]) -> None:
    server.answer = lambda req: orjson.dumps(DECISION).decode()
    out = stage_factory()(tasks(images))
    assert [r["intent"] for r in out] == ["object_swap"] * 3
    router = out[0]["router"]
    assert router["provider"] in ("gemini", "openai") and router["model"] in ("gemini-2.5-flash", "gpt-4.1")
    assert router["prompt_version"] == prompt_version("route")
    by_name = {m["name"]: m for m in out[0]["models"]}
    assert by_name["instruct-pix2pix"]["prompt"] == DECISION["instruction_prompt"]
    assert by_name["infedit"]["source_prompt"] == DECISION["source_prompt"]
    assert by_name["infedit"]["target_prompt"] == DECISION["target_prompt"]
    req: Received = server.requests[0]
    assert req.images() == [Path(images["photo"]).read_bytes()]
    assert "swap the cat for a dog" in req.text() and "object_insertion" in req.text()
    assert len(server.requests) == 3
    again = stage_factory()(tasks(images))
    assert len(server.requests) == 3  # the re-run made zero requests
    assert again == out


def test_429_then_success(stage_factory, server: Loopback, images: dict[str, str]) -> None:
    server.script(RateLimited(retry_after=0), orjson.dumps(DECISION).decode())
    (out,) = stage_factory()(tasks(images, 1))
    assert out["intent"] == "object_swap" and len(server.requests) == 2


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (Blocked(), "blocked"),
        (Truncated('{"intent": "object_sw'), "truncated"),
        (Text('{"intent": "object_swap"'), "unparsed"),
        (Text('{"intent": "teleport", "instruction_prompt": "a", "source_prompt": "b", "target_prompt": "c"}'),
         "unparsed"),
    ],
)
def test_failures_raise_typed_record_errors(stage_factory, server: Loopback, images: dict[str, str], reply: object,
                                            kind: str) -> None:
    server.script(reply, reply)  # a block or broken JSON is asked again once (max_retries=1, issue 29)
    with pytest.raises(RecordError) as info:
        stage_factory()(tasks(images, 1))
    assert info.value.kind == kind and KEY not in info.value.message


def test_refusal_in_a_batch_is_an_error_record_not_rules(server: Loopback, images: dict[str, str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    server.answer = lambda req: Refusal() if "#1" in req.text() else orjson.dumps(DECISION).decode()
    stage = RouteStage("openai:gpt-4.1", base_url=server.openai_url)
    stage.setup()
    out = stage(tasks(images))
    stage.teardown()
    assert [r.get("error", {}).get("kind") for r in out] == [None, "refused", None]
    assert "intent" not in out[1] and out[1]["id"] == "t1"


def test_missing_image_is_an_error_without_a_request(stage_factory, server: Loopback, images: dict[str, str]) -> None:
    server.answer = lambda req: orjson.dumps(DECISION).decode()
    records = tasks(images, 2)
    records[0]["image"] = str(Path(images["photo"]).with_name("nope.png"))
    out = stage_factory()(records)
    assert out[0]["error"]["kind"] == "bad_image" and out[1]["intent"] == "object_swap"
    assert len(server.requests) == 1
