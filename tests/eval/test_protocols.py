"""Strict parsing of judge replies: a readable score or null with a reason, never a guess."""

from __future__ import annotations

import pytest

from hilite_cli.stages.eval.protocols import parse_imgedit, parse_viescore


@pytest.mark.parametrize(
    ("reply", "scores"),
    [('{"score": [8, 6], "reasoning": "ok"}', [8.0, 6.0]), ("Sure:\n```json\n{\"score\": [3, 9]}\n```", [3.0, 9.0]),
     ("[10, 9]", [10.0, 9.0]), ('{"score": 7, "reasoning": "one number"}', [7.0])],
)
def test_viescore_scores_are_read(reply: str, scores: list[float]) -> None:
    assert parse_viescore(reply) == (scores, None)


@pytest.mark.parametrize("reply", ["I would rate it highly", '{"score": [11, 5]}', '{"reasoning": "no score"}',
                                   '{"score": []}', '{"score": ["high", 3]}', "{not json}"])
def test_viescore_unreadable_is_none_with_a_reason(reply: str) -> None:
    scores, reason = parse_viescore(reply)
    assert scores is None and reason


def test_imgedit_three_named_scores() -> None:
    parsed, reason = parse_imgedit("Brief reasoning: fine.\nStyle Fidelity: 1\nContent Preservation: 5\nRendering Quality: 3")
    assert reason is None
    assert parsed == {"names": ["Style Fidelity", "Content Preservation", "Rendering Quality"],
                      "adherence": 1.0, "quality": 5.0, "preservation": 3.0}
    for bad in ("Prompt Compliance: 5\nVisual Seamlessness: 4", "A: 5\nB: 6\nC: 1", "looks good"):
        assert parse_imgedit(bad)[0] is None
