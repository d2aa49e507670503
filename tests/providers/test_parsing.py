from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hilite_cli.providers.parsing import interpret, parse_json, parse_yesno
from hilite_cli.providers.schemas import DesignBatch, EditScores, RouteDecision


@pytest.mark.parametrize(
    ("text", "value"), [("yes", True), ("No.", False), ("'Yes'", True), ("  no, it does not", False)]
)
def test_yesno(text: str, value: bool) -> None:
    parsed = parse_yesno(text)
    assert parsed.status == "ok" and parsed.value is value


@pytest.mark.parametrize("text", ["maybe", "", "The answer is yes"])
def test_yesno_never_guesses(text: str) -> None:
    parsed = parse_yesno(text)
    assert parsed.status == "unparsed" and parsed.value is None


def test_json_in_a_code_fence_validates() -> None:
    parsed = parse_json('```json\n{"InstructionAdherence": 4.3, "ImageAesthetic": 2.8}\n```', EditScores)
    assert parsed.status == "ok" and parsed.value == EditScores(InstructionAdherence=4.3, ImageAesthetic=2.8)


@pytest.mark.parametrize(
    "text",
    [
        '{"InstructionAdherence": 4.3, "ImageAesthetic": 7}',  # out of the paper's 1..5 range
        '{"InstructionAdherence": 4.3}',
        '{"InstructionAdherence": 4.3, "ImageAesthetic": ',
        "4.3 and 2.8",
    ],
)
def test_bad_scores_are_unparsed_not_coerced(text: str) -> None:
    parsed = parse_json(text, EditScores)
    assert parsed.status == "unparsed" and parsed.value is None and parsed.reason


def test_design_batch_is_the_a1_array() -> None:
    parsed = parse_json('[{"prompt": "a street", "edits": ["Remove the bench."]}]', DesignBatch)
    assert parsed.status == "ok" and parsed.value.root[0].edits == ["Remove the bench."]
    assert parse_json('[{"prompt": "a street", "edits": []}]', DesignBatch).status == "unparsed"


def test_route_decision_rejects_unknown_intent() -> None:
    body = '{"intent": "%s", "instruction_prompt": "a", "source_prompt": "b", "target_prompt": "c"}'
    assert parse_json(body % "object_swap", RouteDecision).status == "ok"
    assert parse_json(body % "teleport", RouteDecision).status == "unparsed"


def test_text_passes_through() -> None:
    assert interpret("Add a red apple.", "text", None).value == "Add a red apple."


@pytest.mark.parametrize(
    "text",
    [
        '{"InstructionAdherence": true, "ImageAesthetic": true}',
        '{"InstructionAdherence": "4.8", "ImageAesthetic": 4.0}',
        '{"InstructionAdherence": 1, "InstructionAdherence": 5, "ImageAesthetic": 5}',
        '{"InstructionAdherence": NaN, "ImageAesthetic": 4}',
        '{"InstructionAdherence": Infinity, "ImageAesthetic": 4}',
        '{"InstructionAdherence": [5], "ImageAesthetic": 4}',
        '{"InstructionAdherence": null, "ImageAesthetic": 4}',
    ],
)
def test_only_json_numbers_are_scores(text: str) -> None:
    parsed = parse_json(text, EditScores)
    assert parsed.status == "unparsed" and parsed.value is None and parsed.reason


def test_duplicate_keys_are_named_and_nested_duplicates_count_too() -> None:
    parsed = parse_json('{"InstructionAdherence": 1, "InstructionAdherence": 5, "ImageAesthetic": 5}', EditScores)
    assert "`InstructionAdherence` more than once" in parsed.reason
    nested = '[{"prompt": "a", "prompt": "b", "edits": ["Remove it."]}]'
    assert parse_json(nested, DesignBatch).status == "unparsed"


def test_integers_in_range_are_scores() -> None:
    parsed = parse_json('{"InstructionAdherence": 5, "ImageAesthetic": 1}', EditScores)
    assert parsed.status == "ok" and parsed.value == EditScores(InstructionAdherence=5.0, ImageAesthetic=1.0)


def test_strings_are_not_coerced_from_numbers() -> None:
    body = '{"intent": "object_swap", "instruction_prompt": 3, "source_prompt": "b", "target_prompt": "c"}'
    assert parse_json(body, RouteDecision).status == "unparsed"


def test_broken_json_is_retryable_a_complete_answer_is_not() -> None:
    assert parse_json('{"InstructionAdherence": 4.5, "ImageAesthetic": ', EditScores).retryable
    assert parse_json('```json\n[{"prompt": "a", \n```', DesignBatch).retryable
    assert parse_json("", EditScores).retryable
    assert not parse_json('{"InstructionAdherence": 0, "ImageAesthetic": 4}', EditScores).retryable
    assert not parse_json("Instruction 5/5, aesthetics 4/5", EditScores).retryable  # prose: the model's answer


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)
KEYS = st.sampled_from(["InstructionAdherence", "ImageAesthetic", "IA", "extra"])


def _is_score(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 1.0 <= value <= 5.0


@settings(max_examples=300, deadline=None)
@given(pairs=st.lists(st.tuples(KEYS, JSON_VALUES), max_size=4), fenced=st.booleans())
def test_answer_parser_property(pairs: list[tuple[str, object]], fenced: bool) -> None:
    """ok exactly when the reply is an object of the two keys, each once, each a JSON number in 1..5."""
    import json

    body = "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in pairs) + "}"
    text = f"```json\n{body}\n```" if fenced else body
    parsed = parse_json(text, EditScores)
    keys = [k for k, _ in pairs]
    valid = sorted(keys) == ["ImageAesthetic", "InstructionAdherence"] and all(_is_score(v) for _, v in pairs)
    assert parsed.status == ("ok" if valid else "unparsed")
    if valid:
        values = dict(pairs)
        assert parsed.value.InstructionAdherence == values["InstructionAdherence"]
        assert parsed.value.ImageAesthetic == values["ImageAesthetic"]
    else:
        assert parsed.value is None and parsed.reason


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=60))
def test_any_text_is_ok_or_unparsed_never_an_exception(text: str) -> None:
    for schema in (EditScores, DesignBatch, RouteDecision, None):
        assert parse_json(text, schema).status in ("ok", "unparsed")
    assert parse_yesno(text).status in ("ok", "unparsed")
