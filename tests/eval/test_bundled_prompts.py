"""The VIEScore prompts shipped with hilite are VIEScore's own texts, and `hilite eval gedit` uses them
by default (issue 17: copy what the licence allows, name what was used)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import orjson
import pytest
from eval.conftest import Bench
from support.loopback import Loopback, Received

from hilite_cli.stages.eval.judge_prompts import (
    BUNDLED_VIESCORE, VIESCORE_NAMES, bundled_viescore_prompts, viescore_prompts,
)

MIRROR = Path("/work/.mirror/TIGER-AI-Lab+VIEScore/repo")
FOLDER = resources.files("hilite_cli.prompts").joinpath("viescore")


def _texts() -> dict[str, str]:
    return {n: FOLDER.joinpath(f"{n}.txt").read_bytes().decode("utf-8") for n in VIESCORE_NAMES}


def test_bundled_prompts_equal_what_the_reader_extracts(tmp_path: Path) -> None:
    texts = _texts()
    module = tmp_path / "viescore" / "vie_prompts.py"
    module.parent.mkdir()
    module.write_text("import random\n" + "".join(f"{n} = {v!r}\n" for n, v in texts.items()) + "other = 'x'\n")
    bundled, read = bundled_viescore_prompts(), viescore_prompts(tmp_path)
    assert (bundled.sc_template, bundled.pq, bundled.version) == (read.sc_template, read.pq, read.version)
    assert "<instruction>" in texts["_prompts_0shot_tie_rule_SC"] and "<instruction>" not in bundled.pq
    assert bundled.sc("make it red").endswith("Editing instruction: make it red\n")
    assert bundled.source == BUNDLED_VIESCORE and read.source == str(module)


def test_licence_and_provenance_ship_beside_the_texts() -> None:
    assert FOLDER.joinpath("LICENSE").read_text().startswith("MIT License")
    provenance = FOLDER.joinpath("PROVENANCE").read_text()
    assert "2cbea4e8ce5721425a8772590ecdbe7d2edd1721" in provenance and "viescore/vie_prompts.py" in provenance
    assert all(n in provenance for n in VIESCORE_NAMES)


@pytest.mark.skipif(not MIRROR.is_dir(), reason="no local VIEScore mirror to compare against")
def test_bundled_prompts_match_the_pinned_viescore_commit(tmp_path: Path) -> None:
    import subprocess

    source = subprocess.run(["git", "-C", str(MIRROR), "show", "2cbea4e8ce5721425a8772590ecdbe7d2edd1721:viescore/vie_prompts.py"],
                            capture_output=True, check=True).stdout
    (tmp_path / "vie_prompts.py").write_bytes(source)
    assert viescore_prompts(tmp_path / "vie_prompts.py").version == bundled_viescore_prompts().version


def test_gedit_without_prompts_judges_with_the_bundled_texts(gedit: Bench, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from hilite_cli.cli.app import app

    monkeypatch.setenv("OPENAI_API_KEY", "test-key-not-secret")
    asked: list[str] = []

    def judge(request: Received) -> str:
        asked.append(request.text())
        return '{"score": [7, 8], "reasoning": "fine"}'

    out, summary = tmp_path / "gedit.jsonl", tmp_path / "gedit.json"
    with Loopback(answer=judge) as server:
        result = CliRunner().invoke(app, ["eval", "gedit", "--data", str(gedit.data), "--edited", str(gedit.edited),
                                          "--judge", "openai:gpt-4.1", "--base-url", server.openai_url, "--limit", "1",
                                          "-o", str(out), "--json", str(summary), "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    bundled = bundled_viescore_prompts()
    assert sorted(asked) == sorted([bundled.sc("make the car red"), bundled.pq])
    used = {"source": BUNDLED_VIESCORE, "bundled": True, "version": bundled.version}
    assert orjson.loads(summary.read_bytes())["settings"]["prompts"] == used
    assert orjson.loads(out.read_bytes().splitlines()[0])["judge"]["prompts"] == used
