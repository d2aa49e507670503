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


def test_imgedit_scores_go_to_the_axis_their_label_names() -> None:
    """ImgEdit's style prompt orders its criteria Style Fidelity, Content Preservation, Rendering Quality:
    by position, preservation would get the rendering score and quality the preservation score."""
    parsed, reason = parse_imgedit("Brief reasoning: fine.\nStyle Fidelity: 1\nContent Preservation: 5\nRendering Quality: 3")
    assert reason is None
    assert parsed == {"names": ["Style Fidelity", "Content Preservation", "Rendering Quality"], "scores": [1.0, 5.0, 3.0],
                      "adherence": 1.0, "preservation": 5.0, "quality": 3.0}
    for reply, axes in [("Prompt Compliance: 2\nVisual Naturalness: 4\nPhysical & Detail Coherence: 5", (2.0, 4.0, 5.0)),
                        ("Prompt Compliance: 2\nVisual Seamlessness: 4\nPhysical & Detail Fidelity: 5", (2.0, 4.0, 5.0))]:
        got = parse_imgedit(reply)[0]
        assert (got["adherence"], got["quality"], got["preservation"]) == axes
    unknown = parse_imgedit("Alpha: 2\nBeta: 4\nGamma: 5")[0]  # read, but no axis is guessed
    assert unknown["scores"] == [2.0, 4.0, 5.0] and unknown["adherence"] is None and "axes_reason" in unknown
    for bad in ("Prompt Compliance: 5\nVisual Seamlessness: 4", "A: 5\nB: 6\nC: 1", "looks good"):
        assert parse_imgedit(bad)[0] is None


def test_imgedit_reference_parse_is_step1s() -> None:
    """step1_get_avgscore.py: lines split on ': ' whose value is all digits, as integers, however many."""
    from hilite_cli.stages.eval.protocols import parse_imgedit_reference

    parsed, _ = parse_imgedit_reference("Brief reasoning: a: b\nPrompt Compliance: 4\nVisual Seamlessness: 4.5\nX: 3")
    assert parsed["scores"] == [4, 3]
    assert parse_imgedit_reference("no scores here")[0] is None
