"""`--batch-api` from the command line: a run killed between submit and collect is picked up by
--resume without a second submission; --batch-wait 0 submits and exits; a provider without a batch
API is a usage error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from PIL import Image
from support.batch_configs import fast_configs
from support.cli import hilite
from support.loopback import Loopback, Text
from support.loopback_batch import Plan

ROUTE = ('{"intent": "general_editing", "instruction_prompt": "Make the sky stormy.", '
         '"source_prompt": "a photo", "target_prompt": "a photo with a stormy sky"}')


@pytest.fixture
def tasks(tmp_path: Path) -> Path:
    Image.new("RGB", (16, 16), (90, 120, 200)).save(tmp_path / "p.png")
    (tmp_path / "t.jsonl").write_bytes(b"".join(
        orjson.dumps({"id": f"t{i}", "image": "p.png", "instruction": f"make the sky stormy {i}"}) + b"\n"
        for i in range(3)))
    return tmp_path


def lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def route_args(server: Loopback, backend: str) -> list[str]:
    spec, url = ("gemini:gemini-2.5-flash", server.url) if backend == "gemini" else ("openai:gpt-4.1", server.openai_url)
    return ["route", "t.jsonl", "--provider", spec, "--base-url", url, "--no-progress", "--batch-api", "-o", "r.jsonl"]


def test_a_run_killed_between_submit_and_collect_resumes_without_a_second_submission(
    server: Loopback, keys: str, tasks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configs = fast_configs(tasks / "configs", monkeypatch)
    server.answer = lambda req: Text(ROUTE)
    server.batches.plan(Plan(polls=10**6))  # the job stays running until the test says otherwise
    env = {**os.environ, "HILITE_CONFIG_DIR": str(configs)}
    proc = subprocess.Popen([sys.executable, "-m", "hilite_cli", *route_args(server, "openai")], cwd=tasks, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ledger = tasks / "r.jsonl.batches.jsonl"
    deadline = time.monotonic() + 120
    while not (ledger.exists() and b"submitted" in ledger.read_bytes()) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()
    assert server.batches.creates == 1 and lines(tasks / "r.jsonl") == []
    next(iter(server.batches.jobs.values())).plan.polls = 0  # the provider finished the job meanwhile
    resumed = hilite(*route_args(server, "openai"), "--resume", cwd=tasks, env={"HILITE_CONFIG_DIR": str(configs)})
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert sorted(r["id"] for r in lines(tasks / "r.jsonl")) == ["t0", "t1", "t2"]
    assert all(r["intent"] == "general_editing" for r in lines(tasks / "r.jsonl"))
    assert server.batches.creates == 1  # collected, not paid for twice
    assert "route: openai:gpt-4.1: 3 calls (3 batch), 0 cached" in resumed.stderr.decode()


def test_batch_wait_zero_submits_and_exits_then_resume_collects(
    server: Loopback, keys: str, tasks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configs = fast_configs(tasks / "configs", monkeypatch)
    env = {"HILITE_CONFIG_DIR": str(configs)}
    server.answer = lambda req: Text(ROUTE, tokens=(1000, 200))
    server.batches.plan(Plan(polls=2))
    first = hilite(*route_args(server, "gemini"), "--batch-wait", "0", cwd=tasks, env=env)
    assert first.returncode == 1
    errors = lines(tasks / "r.jsonl.errors.jsonl")
    assert len(errors) == 3 and all("--resume" in e["error"]["message"] for e in errors)
    second = hilite(*route_args(server, "gemini"), "--resume", cwd=tasks, env=env)
    assert second.returncode == 0, second.stderr.decode()
    assert len(lines(tasks / "r.jsonl")) == 3 and server.batches.creates == 1
    # 3 batch answers of 1000 in + 200 out at half of $0.30 / $2.50 per 1M: 3 x 800 µ$ / 2 = $0.0012
    assert "3 calls (3 batch), 0 cached, 3000 in / 600 out tokens, est. $0.0012" in second.stderr.decode()


def test_batch_api_needs_a_provider_with_one(tasks: Path) -> None:
    res = hilite("route", "t.jsonl", "--provider", "offline", "--batch-api", "-o", "r.jsonl", cwd=tasks)
    assert res.returncode == 2
    assert "--batch-api needs a gemini or openai provider, but --provider is offline" in res.stderr.decode()
    assert not (tasks / "r.jsonl").exists() or lines(tasks / "r.jsonl") == []
