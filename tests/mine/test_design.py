"""Algorithm 1: A.1 requests and the checks on what the designer returns."""

from __future__ import annotations

import pytest
from support.loopback import Loopback

from hilite_cli.providers import get_provider
from hilite_cli.records import RecordError
from hilite_cli.stages.mine.design import composite_problem, design_asks, design_specs, validate_spec

# NHR Listing 1 (5 objects, 5 single deletions + the composite).
LISTING_1 = {
    "prompt": "A living room with a large window: a small cactus on the windowsill, a half-eaten bowl of cereal on the "
    "coffee table, a remote control, a crocheted blanket, and a dog toy on the rug.",
    "edits": [
        "Get rid of that cactus.",
        "Remove the cereal bowl.",
        "No remote control, thanks.",
        "Lose the crocheted blanket.",
        "Eliminate the dog toy.",
        "Remove the cactus, cereal, remote, blanket, and toy",
    ],
}


def test_the_papers_own_example_is_valid() -> None:
    spec = validate_spec(LISTING_1)
    assert spec["t2i_prompt"] == LISTING_1["prompt"]
    assert spec["edits"] == LISTING_1["edits"]
    assert spec["id"] == validate_spec(dict(LISTING_1))["id"]


@pytest.mark.parametrize(
    ("edits", "ok"),
    [
        (["Yeet the kite."], True),
        (["Remove the bench.", "Remove the bench and the cat."], True),
        (["Remove the bench.", "Remove the cat."], False),  # 2 objects, no composite
        (["Remove the bench.", "Remove the cat.", "Remove the bench."], False),  # repeats, not a composite
        (["Remove the benches.", "Erase the cat.", "Remove the bench and the cats."], True),  # plurals match
        (["Remove the lamp.", "Remove the cat.", "Remove the cat and the dog."], False),  # lamp missing
    ],
)
def test_composite_deletion_rule(edits: list[str], ok: bool) -> None:
    assert (composite_problem(edits) is None) is ok


@pytest.mark.parametrize(
    "item",
    [
        {"prompt": "", "edits": ["Remove it."]},
        {"prompt": "A room.", "edits": []},
        {"prompt": "A room.", "edits": ["Remove the a.", 3]},
        {"prompt": "A room.", "edits": [f"Remove thing {i}." for i in range(7)]},
        ["not", "an", "object"],
    ],
)
def test_malformed_items_are_refused_with_a_reason(item: object) -> None:
    with pytest.raises(RecordError) as info:
        validate_spec(item)
    assert info.value.kind == "invalid_spec"


def test_asks_split_the_count_into_batches() -> None:
    asks = design_asks(120, 50, "kitchens", 1000)
    assert len(asks) == 3
    assert "Generate exactly 50 prompt + edit pairs themed around kitchens" in asks[0].prompt
    assert "Generate exactly 20 prompt" in asks[2].prompt


def test_design_through_a_real_client_keeps_invalid_items_as_errors(keys: str) -> None:
    reply = [
        LISTING_1,
        {"prompt": "A park with a bench and a cat.", "edits": ["Remove the bench.", "Remove the cat."]},
        {"prompt": "A kite over a beach.", "edits": ["Yeet the kite."]},
    ]
    import orjson

    with Loopback(answer=lambda req: orjson.dumps(reply).decode()) as server:
        provider = get_provider("openai:o3", base_url=server.openai_url)
        try:
            specs, errors = design_specs(provider, count=3, batch=50, theme="parks", max_output_tokens=2000)
        finally:
            provider.close()
        sent = server.requests[0].text()
    assert "Generate exactly 3 prompt + edit pairs themed around parks" in sent
    assert [s["t2i_prompt"] for s in specs] == [LISTING_1["prompt"], "A kite over a beach."]
    assert specs[0]["designer"]["model"] == "o3"
    assert len(errors) == 1
    assert errors[0]["error"]["kind"] == "invalid_spec"
    assert "composite" in errors[0]["error"]["message"]
    assert errors[0]["item"]["edits"] == ["Remove the bench.", "Remove the cat."]


def test_design_batches_get_distinct_replies_and_a_rerun_gets_them_from_the_cache(keys: str) -> None:
    import itertools
    import threading

    import orjson

    counter, lock = itertools.count(), threading.Lock()

    def reply(req: object) -> str:
        with lock:
            n = next(counter)
        return orjson.dumps([{"prompt": f"A kite number {n} over a beach.", "edits": ["Yeet the kite."]}]).decode()

    def design() -> list[str]:
        provider = get_provider("openai:o3", base_url=server.openai_url)
        try:
            specs, errors = design_specs(provider, count=4, batch=1, theme="beaches", max_output_tokens=2000)
        finally:
            provider.close()
        assert errors == []
        return sorted(s["t2i_prompt"] for s in specs)

    with Loopback(answer=reply) as server:
        first = design()
        sent = len(server.requests)
        again = design()
    assert len(first) == 4  # four batches, four distinct replies
    assert again == first and len(server.requests) == sent  # reproducible: all from the cache


def test_a_failed_design_request_is_an_error_record(keys: str) -> None:
    with Loopback(answer=lambda req: "not json at all") as server:
        provider = get_provider("openai:o3", base_url=server.openai_url)
        try:
            specs, errors = design_specs(provider, count=2, batch=50, theme="parks", max_output_tokens=2000)
        finally:
            provider.close()
    assert specs == []
    assert errors[0]["error"]["kind"] == "design_unparsed"


def test_design_command_mines_the_valid_specs_and_reports_the_invalid_one(
    mine, tmp_path, server: Loopback, judge, keys: str
) -> None:
    judge.design = [
        {"prompt": "A kite over a beach.", "edits": ["Yeet the kite."]},
        {"prompt": "A park with a bench and a cat.", "edits": ["Remove the bench.", "Remove the cat."]},
    ]
    m = mine("--design", "2", "--designer", "openai:o3", "--designer-base-url", server.openai_url, "--n-sources", "1",
             "--attempts", "1")
    assert m.code == 1  # an invalid design is an error record
    assert [e["error"]["kind"] for e in m.errors] == ["invalid_spec"]
    specs = [line for line in (tmp_path / "pool.jsonl.specs.jsonl").read_text().splitlines() if line]
    assert len(specs) == 1
    assert m.stats["sources"]["planned"] == 1 and m.stats["jobs"]["queue"] == 1
    assert judge.asked["a1"] == 1

    again = mine("--design", "2", "--designer", "openai:o3", "--designer-base-url", server.openai_url, "--n-sources",
                 "1", "--attempts", "1", "--resume")
    assert judge.asked["a1"] == 1  # the designed specs are reused, not asked for again
    assert again.stats["jobs"]["sampled"] == 1 and len(again.errors) == 1
