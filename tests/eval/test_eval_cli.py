"""`hilite eval` end to end against the loopback judge, with hand-computed aggregation."""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import pytest
from eval.conftest import Bench, sha
from support.loopback import Loopback, Raw, Received, Text

KEY = "test-key-not-secret"


def _run(*args: str):
    from typer.testing import CliRunner

    from hilite_cli.cli.app import app

    return CliRunner().invoke(app, ["eval", *args], catch_exceptions=False)


def _lines(path: Path) -> list[dict]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()] if path.is_file() else []


class VieJudge:
    """SC replies by instruction, PQ replies by the edited image's hash; records what it was asked."""

    def __init__(self, bench: Bench, sc: dict[str, object], pq: dict[str, object]) -> None:
        self.sc = sc
        self.pq = {bench.edited_sha[k]: v for k, v in pq.items()}
        self.asked: list[tuple[str, int]] = []

    def __call__(self, request: Received):
        text, images = request.text(), request.images()
        if "SC-RULES" in text:
            instruction = text.rsplit("Editing instruction: ", 1)[1].strip()
            self.asked.append(("SC", len(images)))
            return self.sc[instruction]
        self.asked.append(("PQ", len(images)))
        return self.pq[sha(images[-1])]


SC = {"make the car red": '{"score": [8, 6], "reasoning": "red, a bit overedited"}', "make the sky green": "[10, 9]",
      "make it a watercolour": '{"score": [4, 4]}', "make it pixel art": Raw(500, {"error": {"message": "down"}})}
PQ = {"k1": '{"score": [9, 4]}', "k2": '{"score": [9, 9]}', "k3": "It looks quite natural to me.", "k5": '{"score": [7, 8]}'}


@pytest.fixture
def openai_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("GEMINI_API_KEY", KEY)


def test_gedit_viescore_per_category_and_failures_are_null(gedit: Bench, tmp_path: Path, openai_key: None) -> None:
    judge = VieJudge(gedit, SC, PQ)
    out, summary = tmp_path / "gedit.jsonl", tmp_path / "gedit.json"
    with Loopback(answer=judge) as server:
        result = _run("gedit", "--data", str(gedit.data), "--edited", str(gedit.edited), "--prompts", str(gedit.prompts),
                      "--judge", "openai:gpt-4.1", "--base-url", server.openai_url, "--max-retries", "0",
                      "-o", str(out), "--json", str(summary), "--out", str(tmp_path / "run"))
        sent = next(r.text() for r in server.requests if r.text().endswith("make the car red"))
    assert result.exit_code == 1, result.output  # two items could not be scored
    assert sent == ('CONTEXT: answer {"score": [...], "reasoning": "..."}\nEDIT-RULES: two images, original then edited.\n'
                    "SC-RULES: [success, overediting]. Editing instruction: make the car red")
    assert sorted(judge.asked) == sorted([("SC", 2), ("PQ", 1)] * 4)  # SC sees source + edit, PQ only the edit; cn item skipped
    s = orjson.loads(summary.read_bytes())
    color, style = s["categories"]["color_alter"], s["categories"]["style_change"]
    # k1: SC min(8,6)=6, PQ min(9,4)=4, O=sqrt(24); k2: SC 9, PQ 9, O 9
    assert color["means"] == pytest.approx({"SC": 7.5, "PQ": 6.5, "O": (math.sqrt(24) + 9) / 2})
    assert (color["items"], color["judged"], style["items"], style["judged"]) == (2, 2, 2, 0)
    # k3: PQ unparsed, k5: SC http_error -> neither is judged; no row mean uses their partial scores
    assert style["means"] == {"SC": None, "PQ": None, "O": None}
    assert s["overall"]["items"] == pytest.approx({"SC": 7.5, "PQ": 6.5, "O": (math.sqrt(24) + 9) / 2})
    assert s["overall"]["categories"] == s["overall"]["items"]  # one category has scores
    assert s["failures"] == {"judge_http_error": 1, "judge_unparsed": 1}
    assert "VIEScore" in s["settings"]["prompts"]["source"]
    records = _lines(out)
    assert [r["key"] for r in records] == ["k1", "k2"] and records[0]["scores"]["O"] == pytest.approx(math.sqrt(24))
    assert records[0]["judge"]["images"] == ["re-encoded png", "re-encoded png"]  # same size: nothing resized
    errors = {e["key"]: e for e in _lines(Path(f"{out}.errors.jsonl"))}
    assert errors["k3"]["error"]["kind"] == "judge_unparsed" and errors["k3"]["scores"]["PQ"] is None
    assert errors["k3"]["judge"]["asks"]["PQ"]["raw"] == "It looks quite natural to me."
    assert errors["k5"]["error"]["kind"] == "judge_http_error" and errors["k5"]["scores"]["SC"] is None
    assert "mean of categories" in result.output and "2 of 4 items have no scores" in result.output

    # --resume keeps k1, k2 and tries the failed items again: k5's SC (an HTTP error) is asked anew; k3's
    # unreadable PQ reply is a reply, so it comes back from the response cache (--no-cache would ask again)
    judge.sc["make it pixel art"] = '{"score": [5, 5]}'
    judge.asked.clear()
    baseline = tmp_path / "before.json"
    baseline.write_bytes(orjson.dumps({**s, "overall": {**s["overall"], "items": {**s["overall"]["items"], "PQ": 9.0}}}))
    with Loopback(answer=judge) as server:
        again = _run("gedit", "--data", str(gedit.data), "--edited", str(gedit.edited), "--prompts", str(gedit.prompts),
                     "--judge", "openai:gpt-4.1", "--base-url", server.openai_url, "-o", str(out), "--resume",
                     "--json", str(summary), "--out", str(tmp_path / "run"), "--baseline", str(baseline), "--max-drop", "0.5")
    assert judge.asked == [("SC", 2)]
    s2 = orjson.loads(summary.read_bytes())
    assert s2["judged"] == 3 and s2["failures"] == {"judge_unparsed": 1}
    assert s2["categories"]["style_change"]["means"] == pytest.approx({"SC": 5.0, "PQ": 7.0, "O": math.sqrt(35)})
    assert again.exit_code == 3  # PQ over the judged items (k1, k2, k5) is 20/3, the baseline says 9.0
    assert "REGRESSION: gedit all items: PQ dropped from 9.0000 to 6.6667 (drop 2.3333 > max-drop 0.5000)" in again.output


def test_gedit_intersection_subset_and_a_baseline_of_another_subset(gedit: Bench, tmp_path: Path, openai_key: None) -> None:
    judge = VieJudge(gedit, {**SC, "make it pixel art": "[5, 5]"}, {**PQ, "k3": "[6, 6]"})
    args = ["gedit", "--data", str(gedit.data), "--edited", str(gedit.edited), "--prompts", str(gedit.prompts),
            "--judge", "openai:gpt-4.1", "--out", str(tmp_path / "run"), "--json", str(tmp_path / "all.json")]
    with Loopback(answer=judge) as server:
        full = _run(*args, "--base-url", server.openai_url)
        part = _run(*args[:-1], str(tmp_path / "inter.json"), "--base-url", server.openai_url, "--subset", "intersection",
                    "--baseline", str(tmp_path / "all.json"))
    assert full.exit_code == 0, full.output
    s = orjson.loads((tmp_path / "all.json").read_bytes())
    assert s["items"] == 4 and s["settings"]["subset"] == "fullset" and s["settings"]["language"] == "en"
    assert part.exit_code == 2 and "scored with subset 'fullset', this run with 'intersection'" in part.output
    assert orjson.loads((tmp_path / "inter.json").read_bytes())["items"] == 3  # k2 is not in the intersection


@pytest.mark.parametrize("content, words", [(b"{not json", "cannot read it as JSON"),
                                             (b'{"schema": "other"}', "not a `hilite eval --json` summary")])
def test_a_bad_baseline_is_one_line_exit_2_before_any_judging(gedit: Bench, tmp_path: Path, openai_key: None,
                                                             content: bytes, words: str) -> None:
    baseline = tmp_path / "bad.json"
    baseline.write_bytes(content)
    with Loopback(answer=VieJudge(gedit, SC, PQ)) as server:
        res = _run("gedit", "--data", str(gedit.data), "--edited", str(gedit.edited), "--prompts", str(gedit.prompts),
                   "--judge", "openai:gpt-4.1", "--base-url", server.openai_url, "--out", str(tmp_path / "run"),
                   "--baseline", str(baseline))
        assert not [r for r in server.requests if "chat/completions" in r.path]
    assert res.exit_code == 2 and words in res.output and "Traceback" not in res.output


class ImgJudge:
    def __init__(self, bench: Bench, replies: dict[str, str]) -> None:
        self.replies = {bench.edited_sha[k]: v for k, v in replies.items() if k in bench.edited_sha}

    def __call__(self, request: Received):
        return Text(self.replies[sha(request.images()[-1])])


REPLIES = {"k1": "Brief reasoning: good.\nPrompt Compliance: 5\nVisual Seamlessness: 4\nPhysical & Detail Fidelity: 3",
           "k2": "Prompt Compliance: 2\nVisual Seamlessness: 2\nPhysical & Detail Fidelity: 5",
           "k3": "Brief reasoning: no ukiyo-e.\nStyle Fidelity: 1\nContent Preservation: 5\nRendering Quality: 3"}


def test_imgedit_axes_per_category_weights_and_a_missing_edit(imgedit: Bench, tmp_path: Path, openai_key: None) -> None:
    summary = tmp_path / "imgedit.json"
    with Loopback(answer=ImgJudge(imgedit, REPLIES)) as server:
        result = _run("imgedit", "--data", str(imgedit.data), "--edited", str(imgedit.edited), "--prompts",
                      str(imgedit.prompts), "--judge", "gemini:gemini-2.5-flash", "--base-url", server.url,
                      "-o", str(tmp_path / "imgedit.jsonl"), "--json", str(summary))
        texts = sorted(r.text() for r in server.requests)
    assert result.exit_code == 1, result.output
    assert texts[0] == "ADD-RULES. Instruction: Add a hat to the cat."  # the user's prompt, instruction filled in
    s = orjson.loads(summary.read_bytes())
    add, style = s["categories"]["add"], s["categories"]["style"]
    assert (add["items"], add["judged"], add["failed"]) == (3, 2, 1)
    assert add["means"] == {"adherence": 3.5, "quality": 3.0, "preservation": 4.0, "overall": 3.5}
    assert style["means"] == {"adherence": 1.0, "quality": 3.0, "preservation": 5.0, "overall": 3.0}  # by label, not position
    assert s["overall"]["items"]["overall"] == pytest.approx(10 / 3)
    assert s["overall"]["categories"]["overall"] == pytest.approx(3.25)
    # weaker categories weigh more: 3.25 / 3.5 and 3.25 / 3.0
    assert s["category_weights"] == pytest.approx({"add": 3.25 / 3.5, "style": 3.25 / 3.0})
    assert s["failures"] == {"missing_edit": 1}


def test_imgedit_with_a_registry_editor_writes_the_benchmark_layout(imgedit: Bench, tmp_path: Path, openai_key: None) -> None:
    meta = orjson.loads((imgedit.data / "basic_edit.json").read_bytes())
    meta = {"g1": {**meta["k1"], "prompt": "make it grayscale"}}
    (imgedit.data / "basic_edit.json").write_bytes(orjson.dumps(meta))
    with Loopback(answer=lambda r: "Prompt Compliance: 4\nVisual Seamlessness: 4\nPhysical & Detail Fidelity: 4") as server:
        result = _run("imgedit", "--data", str(imgedit.data), "--editor", "classic", "--out", str(tmp_path / "run"),
                      "--prompts", str(imgedit.prompts), "--judge", "openai:gpt-4.1", "--base-url", server.openai_url)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "edited" / "g1.png").is_file()
    record = orjson.loads(result.stdout.splitlines()[0])
    assert record["scores"]["overall"] == 4.0 and record["edited"].endswith("edited/g1.png")


def test_an_output_that_is_an_input_or_another_output_is_refused(tmp_path: Path, gedit: Bench, openai_key: None) -> None:
    """Issue 11 for eval: -o onto the baseline, or --errors onto -o, exits 2 and leaves the file as it was."""
    baseline = tmp_path / "before.json"
    baseline.write_bytes(b'{"kept": true}')
    common = ["gedit", "--judge", "openai", "--edited", str(gedit.edited), "--prompts", str(gedit.prompts),
              "--data", str(gedit.data), "--out", str(tmp_path / "run")]
    result = _run(*common, "-o", str(baseline), "--baseline", str(baseline))
    assert result.exit_code == 2 and "are the same file" in result.output
    assert baseline.read_bytes() == b'{"kept": true}'
    out = tmp_path / "items.jsonl"
    result = _run(*common, "-o", str(out), "--errors", str(out))
    assert result.exit_code == 2 and "--errors" in result.output and not out.exists()
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [(("gedit", "--judge", "offline", "--edited", "x"), "--judge offline cannot score"),
     (("gedit", "--judge", "openai", "--edited", "x", "--editor", "classic"), "exactly one of --edited"),
     (("gedit", "--judge", "openai", "--edited", "x", "--metadata", "m.json"), "--metadata is for imgedit"),
     (("bench", "--judge", "openai", "--edited", "x"), "unknown benchmark 'bench'")],
)
def test_usage_errors(args: tuple[str, ...], message: str, tmp_path: Path, gedit: Bench) -> None:
    full = [*args, "--prompts", str(gedit.prompts)]
    if args[0] == "gedit":
        full += ["--data", str(gedit.data), "--out", str(tmp_path / "run")]
    result = _run(*full)
    assert result.exit_code == 2 and message in result.output


def test_imgedit_through_one_batch_job_scores_like_plain_requests(imgedit: Bench, tmp_path: Path, openai_key: None) -> None:
    """`--batch-api` (issue 18): the judge calls go out as one provider batch job, parsed by the same parser."""
    meta = orjson.loads((imgedit.data / "basic_edit.json").read_bytes())
    (imgedit.data / "basic_edit.json").write_bytes(orjson.dumps({"g1": {**meta["k1"], "prompt": "make it grayscale"}}))
    reply = "Prompt Compliance: 4\nVisual Seamlessness: 3\nPhysical & Detail Fidelity: 5"
    common = ("imgedit", "--data", str(imgedit.data), "--editor", "classic", "--out", str(tmp_path / "run"),
              "--prompts", str(imgedit.prompts), "--judge", "openai:gpt-4.1")
    with Loopback(answer=lambda r: reply) as server:
        plain = _run(*common, "--base-url", server.openai_url, "--no-cache")
        batched = _run(*common, "--base-url", server.openai_url, "--no-cache", "--batch-api", "-o", str(tmp_path / "b.jsonl"))
        creates = server.batches.creates
    assert plain.exit_code == 0 and batched.exit_code == 0, batched.output
    assert creates == 1 and (tmp_path / "b.jsonl.batches.jsonl").is_file()
    assert orjson.loads(plain.stdout.splitlines()[0])["scores"] == _lines(tmp_path / "b.jsonl")[0]["scores"]
    assert _lines(tmp_path / "b.jsonl")[0]["scores"]["overall"] == 4.0
    local = _run(*common[:-1], "local:Qwen/Qwen2.5-VL-7B-Instruct", "--batch-api")
    assert local.exit_code == 2 and "--batch-api needs a gemini or openai provider" in local.output
