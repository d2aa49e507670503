"""Issue 29 item 11 from the command line: `validate --batch-api` over a job whose results hold one bad
line scores every other candidate, gives that one a one-line typed error, counts each candidate once,
and `--resume` asks only that one again, in a new job. (The same at 10 000 candidates: see the report
in notes/rel-prov.md.)"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from PIL import Image
from support.batch_configs import fast_configs
from support.cli import hilite
from support.loopback import Loopback, Raw, Received, Reply, Text

N = 40
BAD = "make the sky stormy 17"


def lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


@pytest.mark.parametrize("backend", ["gemini", "openai"])
def test_one_bad_line_costs_one_candidate_and_resume_asks_only_it_again(
    backend: str, server: Loopback, keys: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configs = fast_configs(tmp_path / "configs", monkeypatch, inline_limit_bytes=100)  # Gemini: a responses file
    Image.new("RGB", (16, 16), (90, 120, 200)).save(tmp_path / "s.png")
    Image.new("RGB", (16, 16), (10, 120, 200)).save(tmp_path / "e.png")
    (tmp_path / "c.jsonl").write_bytes(b"".join(orjson.dumps({
        "id": f"c{i}", "parent": f"t{i}", "image": "s.png", "instruction": f"make the sky stormy {i}",
        "model": "classic", "seed": 0, "params": {"steps": 1}, "output": "e.png", "slot": "0"}) + b"\n"
        for i in range(N)))
    bad_line = Raw(200, 5) if backend == "gemini" else Raw(200, {})

    def answer(req: Received) -> Reply:
        return bad_line if f"' {BAD} '" in req.text() else Text('{"InstructionAdherence": 4.8, "ImageAesthetic": 4.9}')

    server.answer = answer
    spec, url = ("gemini:gemini-2.5-flash", server.url) if backend == "gemini" else ("openai:gpt-4.1", server.openai_url)
    args = ["validate", "c.jsonl", "--judge", spec, "--base-url", url, "--batch-api", "--keep", "all", "--no-progress",
            "-o", "out.jsonl"]
    env = {"HILITE_CONFIG_DIR": str(configs)}
    first = hilite(*args, cwd=tmp_path, env=env)
    stderr = first.stderr.decode()
    assert first.returncode == 1, stderr
    assert len(lines(tmp_path / "out.jsonl")) == N - 1
    (error,) = lines(tmp_path / "out.jsonl.errors.jsonl")
    assert error["id"] == "c17" and error["error"]["kind"] == "judge_unparsed" and "\n" not in error["error"]["message"]
    assert "validation error" not in stderr and "Traceback" not in stderr
    assert f"{N - 1} done, 1 failed, 0 skipped, {N} candidates" in stderr  # each candidate counted once
    assert server.batches.creates == 1 and len(server.requests) == N

    server.answer = lambda req: Text('{"InstructionAdherence": 4.8, "ImageAesthetic": 4.9}')
    resumed = hilite(*args, "--resume", cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert "1 done, 0 failed, 39 skipped, 1 candidates" in resumed.stderr.decode()
    assert sorted(r["id"] for r in lines(tmp_path / "out.jsonl")) == sorted(f"c{i}" for i in range(N))
    assert server.batches.creates == 2 and len(server.requests) == N + 1  # only the bad one, in a new job
    assert len(server.batches.jobs[list(server.batches.jobs)[-1]].keys) == 1
