"""The two judging protocols: what is asked, how a reply is read, and an item's scores.

VIEScore (GEdit-Bench), as its own `VIEScore.evaluate` for the "tie" task: SC is asked with the
source and the edited image and answers a list [editing success, over-editing], PQ is asked with
the edited image alone and answers [naturalness, artifacts]; SC = min of its list, PQ = min of its
list, overall O = sqrt(SC x PQ), all on 0-10. VIEScore's parser draws `random.randint(0, 10)` when
it cannot find a score in a reply; hilite never does: a reply without a readable score list is
`unparsed`, and the item's scores are null with that status.

ImgEdit-Bench: one ask with the source and the edited image; the reply has `Name: N` lines (1-5):
instruction adherence, edit quality and detail preservation, in that order for most edit types
(style edits name theirs style fidelity, content preservation, rendering quality). The item score
is their mean, as ImgEdit's step1_get_avgscore.py computes it. A reply that does not give exactly
three such scores is `unparsed`.

Judging runs at temperature 0, like every judge in hilite.
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson

from hilite_cli.providers import Answer, Ask
from hilite_cli.stages.eval.judge_prompts import ImgEditPrompts, VieScorePrompts

_SCORE_LINE = re.compile(r"^\s*([^:\n]+?)\s*:\s*(\d+(?:\.\d+)?)\s*$", re.MULTILINE)
IMGEDIT_AXES = ("adherence", "quality", "preservation")


def _number(value: Any, low: float, high: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value) if low <= value <= high else None


def parse_viescore(text: str) -> tuple[list[float] | None, str | None]:
    """([scores], None) from a VIEScore reply ({"score": [...], ...} or a bare [..]), or (None, reason)."""
    body = text.strip()
    start, end = body.find("{"), body.rfind("}")
    value: Any = None
    try:
        if start != -1 and end > start:
            value = orjson.loads(body[start : end + 1]).get("score")
        elif body.startswith("[") and body.endswith("]"):
            value = orjson.loads(body)
    except (orjson.JSONDecodeError, AttributeError):
        return None, f"no JSON score in the reply: {body[:80]!r}"
    scores = value if isinstance(value, list) else [value]
    numbers = [_number(v, 0, 10) for v in scores]
    if not scores or value is None or any(n is None for n in numbers):
        return None, f"expected a score list of numbers in 0-10, got {value!r}"
    return [n for n in numbers if n is not None], None


def parse_imgedit(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """({axis: score}, None) from an ImgEdit reply with three `Name: N` lines in 1-5, or (None, reason)."""
    found = [(name.strip(), float(value)) for name, value in _SCORE_LINE.findall(text)]
    found = [(n, v) for n, v in found if not n.lower().startswith("brief reasoning")]
    if len(found) != 3 or any(not 1 <= v <= 5 for _, v in found):
        return None, f"expected three 'Name: N' scores in 1-5, got {found!r}"
    return {"names": [n for n, _ in found], **{axis: v for axis, (_, v) in zip(IMGEDIT_AXES, found, strict=True)}}, None


def viescore_asks(prompts: VieScorePrompts, instruction: str, source: bytes, edited: bytes) -> list[Ask]:
    return [Ask(prompt=prompts.sc(instruction), images=[source, edited], temperature=0.0),
            Ask(prompt=prompts.pq, images=[edited], temperature=0.0)]


def imgedit_ask(prompts: ImgEditPrompts, edit_type: str, instruction: str, source: bytes, edited: bytes) -> Ask | None:
    text = prompts.prompt(edit_type, instruction)
    return None if text is None else Ask(prompt=text, images=[source, edited], temperature=0.0)


def judged(answer: Answer, parsed: Any, reason: str | None) -> dict[str, Any]:
    """The judge block of one ask: status ok only when the reply was read; raw text always kept."""
    status = answer.status if answer.status != "ok" else ("ok" if reason is None else "unparsed")
    return {"status": status, "raw": answer.raw, "reason": answer.reason if answer.status != "ok" else reason,
            "parsed": parsed}


def viescore_scores(sc: Answer, pq: Answer) -> tuple[dict[str, float | None], dict[str, Any]]:
    """({SC, PQ, O}, judge blocks); any score that could not be read is null, and O with it."""
    blocks = {}
    values: dict[str, float | None] = {}
    for name, answer in (("SC", sc), ("PQ", pq)):
        scores, reason = parse_viescore(answer.raw or "") if answer.status == "ok" else (None, None)
        blocks[name] = judged(answer, scores, reason)
        values[name] = min(scores) if scores and blocks[name]["status"] == "ok" else None
    sc_v, pq_v = values["SC"], values["PQ"]
    values["O"] = math.sqrt(sc_v * pq_v) if sc_v is not None and pq_v is not None else None
    return values, blocks


def imgedit_scores(answer: Answer) -> tuple[dict[str, float | None], dict[str, Any]]:
    parsed, reason = parse_imgedit(answer.raw or "") if answer.status == "ok" else (None, None)
    block = judged(answer, parsed, reason)
    if block["status"] != "ok" or parsed is None:
        return {axis: None for axis in (*IMGEDIT_AXES, "overall")}, {"judge": block}
    values = {axis: parsed[axis] for axis in IMGEDIT_AXES}
    return {**values, "overall": sum(values.values()) / 3}, {"judge": block}
