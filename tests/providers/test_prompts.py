from __future__ import annotations

import pytest

from hilite_cli.prompts import PROMPT_NAMES, prompt_version, render_prompt, slots


def test_a1_defaults_reproduce_the_paper_text() -> None:
    text = render_prompt("a1_design")
    assert "Generate exactly 50 prompt + edit pairs themed around realistic, every-day life." in text
    assert "Maintain a single coherent style inside the realistic, every-day life." in text
    assert "- Array length = 50." in text
    assert text.startswith("[WARN] ABSOLUTE BAN: The model must never run Python")
    assert '"edits": [' in text and "{{" not in text


def test_a1_batch_and_theme_are_overridable() -> None:
    text = render_prompt("a1_design", batch_size=20, theme="kitchens at night")
    assert "Generate exactly 20 prompt + edit pairs themed around kitchens at night." in text
    assert "Array length = 20." in text and "every-day life" not in text


@pytest.mark.parametrize(
    ("name", "values", "expected"),
    [
        ("a2_evaluation", {"instruction": "make the sky blue"}, "**Editing Instruction**:\n' make the sky blue '\n"),
        ("a3_unwanted", {"instruction": "remove the cat"}, '\n"remove the cat"\nExamine the EDITED image'),
        ("a5_t2i_check", {"prompt": "a red fox"}, "depict the prompt: 'a red fox' and does it look realistic"),
        ("a6_inverse", {"description": "a table", "instruction": "Remove the apple."},
         'Original description: "a table"\nEditing instruction: "Remove the apple."'),
    ],
)
def test_placeholders_are_filled(name: str, values: dict[str, str], expected: str) -> None:
    assert expected in render_prompt(name, **values)


def test_json_braces_stay_and_values_are_not_re_expanded() -> None:
    text = render_prompt("a2_evaluation", instruction="write {{instruction}} and {} on the sign")
    assert '{ "InstructionAdherence": 4.3, "ImageAesthetic": 2.8 }' in text
    assert "' write {{instruction}} and {} on the sign '" in text


def test_a4_takes_no_values_and_wrong_values_fail() -> None:
    assert slots("a4_aesthetics") == set()
    assert render_prompt("a4_aesthetics").startswith("You are an expert in visual aesthetics.")
    with pytest.raises(ValueError, match="missing"):
        render_prompt("a2_evaluation")
    with pytest.raises(ValueError, match="unknown"):
        render_prompt("a5_t2i_check", prompt="x", instruction="y")
    with pytest.raises(KeyError):
        render_prompt("a7_nope")


def test_versions_are_short_distinct_hashes() -> None:
    versions = {prompt_version(n) for n in PROMPT_NAMES}
    assert len(versions) == len(PROMPT_NAMES)
    assert all(len(v) == 12 for v in versions)


def test_route_prompt_lists_every_intent() -> None:
    from hilite_cli.providers.schemas import INTENTS

    text = render_prompt("route", instruction="make the sky stormy")
    assert '"make the sky stormy"' in text
    assert all(f'"{intent}"' in text for intent in INTENTS)
