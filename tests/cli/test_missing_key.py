"""A missing API key stops every command before it writes anything, naming that command's own flags."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from support.cli import hilite

CASES = [
    (["route", "t.jsonl", "--provider", "gemini"], "--provider gemini:", "pass --provider offline"),
    (["validate", "t.jsonl", "--judge", "openai:gpt-4.1"], "--judge openai:gpt-4.1:", "pass --judge offline"),
    (["invert", "t.jsonl", "--llm", "offline", "--backward-check", "--judge", "gemini"], "--judge gemini:",
     "pass --judge offline"),
    # `bootstrap --llm offline` fails every composition and `score-dataset --judge offline` scores nothing:
    # their advice is the way each really runs without a model.
    (["bootstrap", "t.jsonl", "--llm", "openai"], "pass --base-url http://127.0.0.1:PORT/v1", "leave --llm out"),
    (["score-dataset", "t.jsonl", "--metrics", "judge", "--judge", "gemini"], "--judge gemini:",
     "drop `judge` from --metrics"),
    (["mine", "--design", "2", "--designer", "openai:o3"], "pass --designer-base-url http://127.0.0.1:PORT/v1",
     "hilite mine specs.jsonl"),
]


@pytest.mark.parametrize(("args", "names", "fallback"), CASES, ids=[c[0][0] for c in CASES])
def test_missing_key_names_the_commands_flags(tmp_path: Path, args: list[str], names: str, fallback: str) -> None:
    (tmp_path / "t.jsonl").write_bytes(orjson.dumps({"id": "a", "image": "x.png", "instruction": "y"}) + b"\n")
    res = hilite(*args, "-o", "out.jsonl", cwd=tmp_path)
    message = res.stderr.decode()
    assert res.returncode == 2, message
    assert names in message and fallback in message and "no API key" in message
    assert "offline" not in message or "offline" in fallback or args[0] in ("route", "validate", "invert")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.jsonl"]  # no empty output, no ledger
