"""kill -9 in the middle of a run, then --resume: nothing redone twice, nothing lost."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

from mine.helpers import Judge, check_accounting, collect, read_jsonl, spawn, write_specs
from support.loopback import Loopback


def test_kill_then_resume(tmp_path: Path, tiny_weights: dict[str, Path], keys: str, mine) -> None:
    specs = write_specs(tmp_path / "specs.jsonl", [
        {"t2i_prompt": "a cat on a sofa", "edits": ["make it winter", "make it a painting", "a bad edit"]},
    ])
    judge = Judge()
    with Loopback(answer=judge, latency=0.15) as server:
        args = (str(specs), "--prefilter", "openai:qwen-72b", "--base-url", server.openai_url, "--gate", "openai:qwen-7b",
                "--gate-base-url", server.openai_url, "--attempts", "3", "--window", "4")
        proc = spawn(tmp_path, tiny_weights, *args)
        pool = tmp_path / "pool.jsonl"
        deadline = time.monotonic() + 240
        while len(read_jsonl(pool)) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(random.uniform(0.0, 0.6))  # a random point after some candidates were written
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        before = collect(tmp_path, -9, "")
        assert 0 < len([e for e in before.state if e["type"] == "job"]) < 18

        m = mine(*args, "--resume")
    assert m.code == 0, m.output
    check_accounting(m)
    jobs = [e for e in m.state if e["type"] == "job"]
    assert len(jobs) == len({e["id"] for e in jobs}) == m.stats["jobs"]["queue"] == 2 * 3 * 3  # every job exactly once
    sources = [e for e in m.state if e["type"] == "source"]
    assert len(sources) == len({e["id"] for e in sources}) == 2
    ids = [r["id"] for r in m.pool]
    assert len(ids) == len(set(ids)) == m.stats["jobs"]["passed"]  # no duplicated candidate
    assert {e["candidate"] for e in jobs if e["outcome"] == "passed"} == set(ids)
    for record in m.pool:
        assert (tmp_path / record["output"]).is_file() and (tmp_path / record["image"]).is_file()
    assert m.stats["jobs"]["rejected_at"]["a2"] == 2 * 3  # "a bad edit" on both sources
