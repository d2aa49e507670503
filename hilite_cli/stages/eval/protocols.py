"""The two judging protocols: what is asked, how a reply is read, and an item's scores.

VIEScore (GEdit-Bench), as its own `VIEScore.evaluate` for the "tie" task: SC is asked with the
source and the edited image and answers a list [editing success, over-editing], PQ is asked with
the edited image alone and answers [naturalness, artifacts]; SC = min of its list, PQ = min of its
list, overall O = sqrt(SC x PQ), all on 0-10. As GEdit-Bench's test_gedit_score.py does, the edited
image is resized to the source's size before judging. VIEScore's parser draws `random.randint(0,
10)` when it cannot find a score in a reply; hilite never does: a reply without a readable score
list is `unparsed`, and the item's scores are null with that status.

ImgEdit-Bench: one ask with the source and the edited image; the reply has `Name: N` lines (1-5).
The prompts name their three criteria per edit type and in different orders (style: Style Fidelity,
Content Preservation, Rendering Quality), so each score goes to the axis its label names
(configs/eval.toml [imgedit.axes]), never by position. The item score is their mean, as ImgEdit's
step1_get_avgscore.py computes it.

Two request shapes (`--protocol`, configs/eval.toml [protocols]): `careful`, hilite's default
(temperature 0, lossless PNG, exactly three 1-5 scores for ImgEdit), and `reference`, the published
harnesses' (GEdit: JPEG, the API's default temperature, 1400 max tokens; ImgEdit: the files' own
bytes, integer `Name: N` lines as step1 reads them, item means rounded to 2 decimals).
`REFERENCE_DEVIATIONS` lists where reference mode still differs from the harness, and why.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from hilite_cli.config import load_config
from hilite_cli.images import encode_image, load_image, read_image_file
from hilite_cli.providers import Answer, Ask
from hilite_cli.stages.eval.judge_prompts import ImgEditPrompts, VieScorePrompts

_SCORE_LINE = re.compile(r"^\s*([^:\n]+?)\s*:\s*(\d+(?:\.\d+)?)\s*$", re.MULTILINE)
IMGEDIT_AXES = ("adherence", "quality", "preservation")
PROTOCOLS = ("careful", "reference")
_AXIS_PRECEDENCE = ("preservation", "adherence", "quality")  # "Physical & Detail Fidelity" is preservation

# Where `--protocol reference` still differs from the published harness, said in its output.
REFERENCE_DEVIATIONS: dict[str, tuple[str, ...]] = {
    "gedit": (
        "an unreadable reply: the harness asks once more, then draws random.randint(0, 10); hilite leaves "
        "the item's scores null (judge_unparsed) and out of the means",
        "a failing request: the harness retries up to 10000 times; hilite retries as configs/providers.toml "
        "says, then fails the item",
        "item order: hilite averages in the dataset's order; the harness's CSV follows thread completion "
        "order, which can move np.mean's last bits",
    ),
    "imgedit": (
        "data URLs: hilite labels each image by its real type; basic_bench.py labels every file image/png",
        "max output tokens: basic_bench.py sets none; hilite's provider default applies",
        "a failing request or a reply without an integer `Name: N` line: the harness leaves the item out of "
        "its scores; hilite fails the item (errors manifest, exit 1) and leaves it out of the means too",
        "the overall row (mean of the type scores, rounded to 2 decimals) is not in the published scripts, "
        "which stop at the type scores",
    ),
}


@dataclass(frozen=True)
class RequestShape:
    """How images are encoded and the judge is sampled under one protocol."""

    protocol: str
    encoding: str  # png (lossless), jpeg, or file (the files' own bytes)
    temperature: float | None
    max_output_tokens: int | None = None
    jpeg_quality: int = 75


def request_shape(benchmark: str, protocol: str) -> RequestShape:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    c = load_config("eval")["protocols"]
    if protocol == "careful":
        return RequestShape("careful", "png", float(c["careful"]["temperature"]))
    ref = c["reference"][benchmark]
    limit = ref.get("max_output_tokens")
    return RequestShape("reference", str(ref["encoding"]), float(ref["temperature"]),
                        int(limit) if limit is not None else None, int(ref.get("jpeg_quality", 75)))


def judge_images(benchmark: str, shape: RequestShape, source: Path, edited: Path) -> tuple[bytes, bytes, list[str]]:
    """The two images as the judge receives them, and how each went (the record's `judge.images`). GEdit:
    the edited image resized to the source's size (PIL's default filter, as test_gedit_score.py does),
    then PNG or JPEG; ImgEdit's reference sends each file's own bytes (both are decoded first, so a
    broken file fails here, not at the judge)."""
    src, out = load_image(source), load_image(edited)
    if shape.encoding == "file":
        return read_image_file(source), read_image_file(edited), ["original file", "original file"]
    resized = benchmark == "gedit" and out.size != src.size
    if resized:
        out = out.resize(src.size)
    how = f"re-encoded jpeg q{shape.jpeg_quality}" if shape.encoding == "jpeg" else "re-encoded png"
    sent = [how, how + (f", resized to the source's {src.size[0]}x{src.size[1]}" if resized else "")]
    if shape.encoding == "jpeg":
        return _jpeg(src, shape.jpeg_quality), _jpeg(out, shape.jpeg_quality), sent
    return encode_image(src), encode_image(out), sent


def _jpeg(img: Any, quality: int) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def imgedit_axis(label: str) -> str | None:
    """The axis a score's label names (configs/eval.toml [imgedit.axes]), or None."""
    words = load_config("eval")["imgedit"]["axes"]
    lowered = label.lower()
    return next((axis for axis in _AXIS_PRECEDENCE if any(w in lowered for w in words[axis])), None)


def _by_label(names: list[str], values: list[float]) -> tuple[dict[str, float | None], str | None]:
    """Each score on the axis its label names; all null (with why) unless the labels name three distinct axes."""
    axes = [imgedit_axis(n) for n in names]
    if len(values) == 3 and sorted(a for a in axes if a) == sorted(IMGEDIT_AXES):
        return dict(zip(axes, values, strict=True)), None  # type: ignore[arg-type]
    return {axis: None for axis in IMGEDIT_AXES}, f"labels {names!r} do not name the three axes"


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
    """({names, scores, axis: score}, None) from an ImgEdit reply with three `Name: N` lines in 1-5, or
    (None, reason). Scores go to the axes their labels name (null, with `axes_reason`, if they do not)."""
    found = [(name.strip(), float(value)) for name, value in _SCORE_LINE.findall(text)]
    found = [(n, v) for n, v in found if not n.lower().startswith("brief reasoning")]
    if len(found) != 3 or any(not 1 <= v <= 5 for _, v in found):
        return None, f"expected three 'Name: N' scores in 1-5, got {found!r}"
    names, values = [n for n, _ in found], [v for _, v in found]
    axes, why = _by_label(names, values)
    return {"names": names, "scores": values, **axes, **({"axes_reason": why} if why else {})}, None


def parse_imgedit_reference(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """The scores step1_get_avgscore.py reads: every line `Name: N` (split on ': ') whose N is all
    digits, as integers, however many there are; (None, reason) when there is none."""
    found = []
    for line in text.splitlines():
        parts = line.strip().split(": ")
        if len(parts) == 2 and parts[1].isdigit():
            found.append((parts[0], int(parts[1])))
    if not found:
        return None, f"no integer 'Name: N' line in the reply: {text[:80]!r}"
    names, values = [n for n, _ in found], [v for _, v in found]
    axes, why = _by_label(names, [float(v) for v in values])
    return {"names": names, "scores": values, **axes, **({"axes_reason": why} if why else {})}, None


def viescore_asks(prompts: VieScorePrompts, instruction: str, source: bytes, edited: bytes,
                  shape: RequestShape) -> list[Ask]:
    options = {"temperature": shape.temperature, "max_output_tokens": shape.max_output_tokens,
               "text_first": shape.protocol == "reference"}
    return [Ask(prompt=prompts.sc(instruction), images=[source, edited], **options),
            Ask(prompt=prompts.pq, images=[edited], **options)]


def imgedit_ask(prompts: ImgEditPrompts, edit_type: str, instruction: str, source: bytes, edited: bytes,
                shape: RequestShape) -> Ask | None:
    text = prompts.prompt(edit_type, instruction)
    return None if text is None else Ask(prompt=text, images=[source, edited], temperature=shape.temperature,
                                         max_output_tokens=shape.max_output_tokens,
                                         text_first=shape.protocol == "reference")


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


def imgedit_scores(answer: Answer, protocol: str = "careful") -> tuple[dict[str, float | None], dict[str, Any]]:
    """Per-axis scores by label and the item score: careful, the mean of three 1-5 scores; reference,
    step1_get_avgscore.py's round(mean of the integer scores, 2)."""
    parse = parse_imgedit_reference if protocol == "reference" else parse_imgedit
    parsed, reason = parse(answer.raw or "") if answer.status == "ok" else (None, None)
    block = judged(answer, parsed, reason)
    if block["status"] != "ok" or parsed is None:
        return {axis: None for axis in (*IMGEDIT_AXES, "overall")}, {"judge": block}
    values = parsed["scores"]
    overall = round(sum(values) / len(values), 2) if protocol == "reference" else sum(values) / len(values)
    return {**{axis: parsed[axis] for axis in IMGEDIT_AXES}, "overall": overall}, {"judge": block}
