"""`--protocol reference`: the published harnesses' requests and arithmetic, on fixtures in each
benchmark's real columns and layout. The expected numbers are computed here the way GEdit-Bench's
calculate_statistics.py and ImgEdit's step1_get_avgscore.py / step2_typescore.py compute them, from
the same judge answers, and must equal hilite's to the last digit (==, not approx). GEdit's edited
image reaches the judge resized to the source's size in both protocols, as test_gedit_score.py does."""

from __future__ import annotations

import hashlib
import io
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import orjson
import pytest
from PIL import Image
from support.loopback import Loopback, Received, Text
from support.photos import photo

GROUPS_USED = ("color_alter", "style_change")  # in GEdit's GROUPS order (which is sorted order)
NAMES = ["astronaut", "coffee", "chelsea", "rocket", "camera"]


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _run(*args: str):
    from typer.testing import CliRunner

    from hilite_cli.cli.app import app

    return CliRunner().invoke(app, ["eval", *args], catch_exceptions=False)


@pytest.fixture
def openai_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key-not-secret")


def _gedit(tmp_path: Path) -> tuple[Path, Path, list[tuple[str, str, str]]]:
    """GEdit-Bench as the hub ships it (parquet with key, task_type, instruction, instruction_language,
    input_image, Intersection_exist) and edited images at EDITED/<task_type>/<lang>/<key>.png, bigger than the sources."""
    import datasets

    rows = [(f"c{i}", "color_alter", f"make object {i} red") for i in range(9)]  # 9 > 8: np.mean's pairwise sum
    rows += [(f"s{i}", "style_change", f"paint it in style {i}") for i in range(3)]
    sources = [photo(NAMES[i % 5], 24 + i) for i in range(len(rows))]
    table = datasets.Dataset.from_dict(
        {"key": [r[0] for r in rows], "task_type": [r[1] for r in rows], "instruction": [r[2] for r in rows],
         "instruction_language": ["en"] * len(rows), "input_image": sources, "Intersection_exist": [True] * len(rows)},
        features=datasets.Features({"key": datasets.Value("string"), "task_type": datasets.Value("string"),
                                    "instruction": datasets.Value("string"), "instruction_language": datasets.Value("string"),
                                    "input_image": datasets.Image(), "Intersection_exist": datasets.Value("bool")}))
    data = tmp_path / "GEdit-Bench" / "data"
    data.mkdir(parents=True)
    table.to_parquet(str(data / "train-00000-of-00001.parquet"))
    edited = tmp_path / "edited"
    for (key, task, _), src in zip(rows, sources, strict=True):
        target = edited / task / "en" / f"{key}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_png(src.rotate(90).resize((40, 40))))
    return data.parent, edited, rows


class VieScoreJudge:
    """SC by instruction, PQ from the edited image's bytes; remembers every request."""

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        self.sc = {instr: [(3 * i) % 11, (7 * i + 2) % 11] for i, (_, _, instr) in enumerate(rows)}
        self.requests: list[Received] = []

    @staticmethod
    def pq(image: bytes) -> list[int]:
        return [int(_sha(image)[:4], 16) % 11, 10]

    def __call__(self, request: Received):
        self.requests.append(request)
        text = request.text()
        if "<instruction>" not in text and "Editing instruction" not in text and len(request.images()) == 1:
            return Text(orjson.dumps({"score": self.pq(request.images()[0]), "reasoning": "."}).decode())
        instr = next(i for i in self.sc if i in text)
        return Text(orjson.dumps({"score": self.sc[instr], "reasoning": "."}).decode())


def _gedit_run(tmp_path: Path, protocol: str) -> tuple[dict, VieScoreJudge, list[tuple[str, str, str]]]:
    data, edited, rows = _gedit(tmp_path)
    judge = VieScoreJudge(rows)
    with Loopback(answer=judge) as server:
        result = _run("gedit", "--data", str(data), "--edited", str(edited), "--judge", "openai:gpt-4.1",
                      "--base-url", server.openai_url, "--out", str(tmp_path / "run"), "--protocol", protocol,
                      "--json", str(tmp_path / "s.json"), "-o", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 0, result.output
    return orjson.loads((tmp_path / "s.json").read_bytes()), judge, rows


def test_gedit_reference_equals_calculate_statistics_to_the_last_digit(tmp_path: Path, openai_key: None) -> None:
    summary, judge, rows = _gedit_run(tmp_path, "reference")
    assert summary["settings"]["protocol"] == "reference" and summary["settings"]["deviations"]
    # The requests: JPEG images, the edited one at the source's size; temperature 1.0 (the API default
    # the harness leaves unset) and max_tokens 1400, as mllm_tools/openai.py sends.
    by_instr = {r[2]: r for r in rows}
    sc_of: dict[str, list[int]] = {}
    pq_of: dict[str, list[int]] = {}
    for request in judge.requests:
        assert request.body["temperature"] == 1.0 and request.body["max_tokens"] == 1400
        assert request.body["messages"][0]["content"][0]["type"] == "text"  # the harness sends the text first
        assert set(request.image_mimes()) == {"image/jpeg"}
        images = request.images()
        if len(images) == 2:
            instr = next(i for i in judge.sc if i in request.text())
            key = by_instr[instr][0]
            source, edited = (Image.open(io.BytesIO(b)) for b in images)
            assert source.format == edited.format == "JPEG" and edited.size == source.size != (40, 40)
            sc_of[key], pq_of[key] = judge.sc[instr], judge.pq(images[1])
    # calculate_statistics.py: per task type np.mean of SC, PQ and sqrt(SC * PQ), then np.mean over types.
    sem, qual, over = defaultdict(list), defaultdict(list), defaultdict(list)
    for key, task, _ in rows:
        semantics, quality = min(sc_of[key]), min(pq_of[key])
        sem[task].append(semantics)
        qual[task].append(quality)
        over[task].append(math.sqrt(semantics * quality))
    for task in GROUPS_USED:
        assert summary["categories"][task]["means"] == {"SC": np.mean(sem[task]), "PQ": np.mean(qual[task]),
                                                        "O": np.mean(over[task])}
    assert summary["overall"]["categories"] == {
        "SC": np.mean([np.mean(sem[t]) for t in GROUPS_USED]), "PQ": np.mean([np.mean(qual[t]) for t in GROUPS_USED]),
        "O": np.mean([np.mean(over[t]) for t in GROUPS_USED])}


def test_gedit_careful_also_resizes_the_edited_image_and_keeps_png(tmp_path: Path, openai_key: None) -> None:
    summary, judge, _ = _gedit_run(tmp_path, "careful")
    assert summary["settings"]["protocol"] == "careful" and "deviations" not in summary["settings"]
    for request in judge.requests:
        assert request.body["temperature"] == 0.0 and set(request.image_mimes()) == {"image/png"}
        assert request.body["messages"][0]["content"][-1]["type"] == "text"  # hilite's order: images, then text
        images = [Image.open(io.BytesIO(b)) for b in request.images()]
        if len(images) == 2:
            assert images[1].size == images[0].size != (40, 40)
        else:
            assert images[0].size != (40, 40)


# ImgEdit: basic_edit.json {key: {id, prompt, edit_type}}, originals under <root>/<id>, edited EDITED/<key>.png.
IMGEDIT = {
    "101": ("animal/000000101.jpg", "Add a hat to the cat.", "add", "Prompt Compliance: 4\nVisual Naturalness: 3\nPhysical & Detail Coherence: 5"),
    "102": ("animal/000000102.jpg", "Add a red ball.", "add", "Brief reasoning: ok.\nPrompt Compliance: 2\nVisual Naturalness: 2\nPhysical & Detail Coherence: 3"),
    "103": ("animal/000000103.jpg", "Add a bird.", "add", "Prompt Compliance: 5\nVisual Naturalness: 5\nPhysical & Detail Coherence: 4"),
    "104": ("style/000000104.jpg", "Turn it into ukiyo-e.", "style", "Brief reasoning: no.\nStyle Fidelity: 1\nContent Preservation: 5\nRendering Quality: 4"),
    "105": ("style/000000105.jpg", "Make it a watercolour.", "style", "Style Fidelity: 4\nContent Preservation: 4\nRendering Quality: 5"),
    "106": ("style/000000106.jpg", "Make it pixel art.", "style", "Style Fidelity: 2\nContent Preservation: 3\nRendering Quality: 3"),
    "107": ("animal/000000107.jpg", "Make the fur darker.", "adjust", "Prompt Compliance: 1\nVisual Seamlessness: 4\nPhysical & Detail Fidelity: 4"),
}


def test_imgedit_reference_equals_step1_and_step2_to_the_last_digit(tmp_path: Path, openai_key: None) -> None:
    root = tmp_path / "Basic"
    edited = tmp_path / "edited"
    edited.mkdir()
    replies = {}
    for i, (key, (rel, _, _, reply)) in enumerate(IMGEDIT.items()):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        photo(NAMES[i % 5], 24).save(root / rel, "JPEG")
        out = _png(photo(NAMES[i % 5], 24 + i).rotate(90))  # distinct bytes per item: replies go by hash
        (edited / f"{key}.png").write_bytes(out)
        replies[_sha(out)] = reply
    (root / "basic_edit.json").write_bytes(orjson.dumps({k: {"id": v[0], "prompt": v[1], "edit_type": v[2]}
                                                         for k, v in IMGEDIT.items()}))
    prompts = tmp_path / "prompts.json"
    prompts.write_bytes(orjson.dumps({t: f"{t.upper()}-RULES: <edit_prompt>" for t in ("add", "style", "adjust")}))
    seen: list[Received] = []

    def judge(request: Received):
        seen.append(request)
        return Text(replies[_sha(request.images()[-1])])

    with Loopback(answer=judge) as server:
        result = _run("imgedit", "--data", str(root), "--edited", str(edited), "--prompts", str(prompts),
                      "--judge", "openai:gpt-4o", "--base-url", server.openai_url, "--protocol", "reference",
                      "--json", str(tmp_path / "s.json"), "-o", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 0, result.output
    assert "--protocol reference differs from the published harness" in result.output
    for request in seen:  # basic_bench.py sends the files' own bytes; no temperature, i.e. the API's 1.0
        assert request.body["temperature"] == 1.0
        assert request.images()[0] in {(root / v[0]).read_bytes() for v in IMGEDIT.values()}
    summary = orjson.loads((tmp_path / "s.json").read_bytes())
    # step1_get_avgscore.py, then step2_typescore.py, on the same answers
    average = {}
    for key, (_, _, _, reply) in IMGEDIT.items():
        scores = []
        for line in reply.splitlines():
            parts = line.strip().split(": ")
            if len(parts) == 2 and parts[1].isdigit():
                scores.append(int(parts[1]))
        average[key] = round(sum(scores) / len(scores), 2)
    per_type = defaultdict(list)
    for key, score in average.items():
        per_type[IMGEDIT[key][2]].append(score)
    typescore = {t: round(sum(s) / len(s), 2) for t, s in per_type.items()}
    assert {t: summary["categories"][t]["means"]["overall"] for t in typescore} == typescore
    records = {r["key"]: r for r in (orjson.loads(x) for x in (tmp_path / "o.jsonl").read_bytes().splitlines())}
    assert {k: r["scores"]["overall"] for k, r in records.items()} == average
    # axes by label: style's first score is style fidelity (adherence), its second content preservation
    assert records["104"]["scores"] == {"adherence": 1, "preservation": 5, "quality": 4, "overall": 3.33}
    assert records["101"]["scores"] == {"adherence": 4, "quality": 3, "preservation": 5, "overall": 4.0}
