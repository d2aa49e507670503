"""The issue's must-shows through `hilite route` itself: LLM routes, cache re-run, typed errors, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from support.loopback import Blocked, Loopback
from typer.testing import CliRunner

from hilite_cli.cli.app import app

KEY = "cli-route-key-5a4b3c2d1e"
DECISION = {"intent": "object_insertion", "instruction_prompt": "Add a red kite in the upper-left sky.",
            "source_prompt": "A beach under a clear sky.", "target_prompt": "A beach with a red kite in the sky."}


def write_tasks(tmp_path: Path, image: str, n: int) -> Path:
    path = tmp_path / "tasks.jsonl"
    path.write_bytes(b"".join(orjson.dumps({"id": f"t{i}", "image": image, "instruction": f"add a kite {i}"}) + b"\n"
                              for i in range(n)))
    return path


@pytest.mark.parametrize(("spec", "attr"), [("gemini:gemini-2.5-flash", "url"), ("openai:gpt-4.1", "openai_url")])
def test_route_with_llm_then_cache(spec: str, attr: str, server: Loopback, images: dict[str, str], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    server.answer = lambda req: orjson.dumps(DECISION).decode()
    tasks = write_tasks(tmp_path, images["photo"], 4)
    args = ["route", str(tasks), "--provider", spec, "--base-url", getattr(server, attr), "--no-progress"]
    first = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "a.jsonl")])
    assert first.exit_code == 0, first.output
    records = [orjson.loads(line) for line in (tmp_path / "a.jsonl").read_bytes().splitlines()]
    assert [r["intent"] for r in records] == ["object_insertion"] * 4 and len(server.requests) == 4
    second = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "b.jsonl")])
    assert second.exit_code == 0 and len(server.requests) == 4  # zero requests on the re-run
    assert (tmp_path / "b.jsonl").read_bytes() == (tmp_path / "a.jsonl").read_bytes()
    assert KEY not in first.output + second.output


def test_blocked_task_goes_to_errors_with_exit_1(server: Loopback, images: dict[str, str], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    server.answer = lambda req: Blocked() if "kite 1" in req.text() else orjson.dumps(DECISION).decode()
    tasks = write_tasks(tmp_path, images["photo"], 3)
    result = CliRunner().invoke(app, ["route", str(tasks), "--provider", "gemini", "--base-url", server.url,
                                      "--max-retries", "1", "--no-progress", "-o", str(tmp_path / "out.jsonl"),
                                      "--errors", str(tmp_path / "err.jsonl")])
    assert result.exit_code == 1
    errors = [orjson.loads(line) for line in (tmp_path / "err.jsonl").read_bytes().splitlines()]
    assert [(e["id"], e["error"]["kind"]) for e in errors] == [("t1", "blocked")]
    assert len((tmp_path / "out.jsonl").read_bytes().splitlines()) == 2


def test_missing_key_is_a_usage_error(images: dict[str, str], tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path, images["photo"], 1)
    code = "from hilite_cli.cli.app import main; main()"
    result = subprocess.run([sys.executable, "-c", code, "route", str(tasks), "--provider", "gemini", "--no-progress"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    assert "GEMINI_API_KEY" in result.stderr and "--provider offline" in result.stderr
