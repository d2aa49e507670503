from __future__ import annotations

import pytest

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
