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
    with Loopback(answer=judge, latency=0.2) as server:
        args = (str(specs), "--prefilter", "openai:qwen-72b", "--base-url", server.openai_url, "--gate", "openai:qwen-7b",
                "--gate-base-url", server.openai_url, "--attempts", "4", "--window", "4", "--steps", "1", "--t2i-steps", "1")
        proc = spawn(tmp_path, tiny_weights, *args)
        pool = tmp_path / "pool.jsonl"
        deadline = time.monotonic() + 240
        while len(read_jsonl(pool)) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(random.uniform(0.0, 0.5))  # a random point after some candidates were written
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        before = collect(tmp_path, -9, "")
        assert 0 < len([e for e in before.state if e["type"] == "job"]) < 24

        m = mine(*args, "--resume")
    assert m.code == 0, m.output
    check_accounting(m)
    jobs = [e for e in m.state if e["type"] == "job"]
    assert len(jobs) == len({e["id"] for e in jobs}) == m.stats["jobs"]["queue"] == 2 * 3 * 4  # every job exactly once
    sources = [e for e in m.state if e["type"] == "source"]
    assert len(sources) == len({e["id"] for e in sources}) == 2
    ids = [r["id"] for r in m.pool]
    assert len(ids) == len(set(ids)) == m.stats["jobs"]["passed"]  # no duplicated candidate
    assert {e["candidate"] for e in jobs if e["outcome"] == "passed"} == set(ids)
    for record in m.pool:
        assert (tmp_path / record["output"]).is_file() and (tmp_path / record["image"]).is_file()
    assert m.stats["jobs"]["rejected_at"]["a2"] == 2 * 4  # "a bad edit" on both sources


def test_lost_state_lines_are_redone_without_duplicate_candidates(tmp_path: Path, mine) -> None:
    """A kill after the pool line but before the state line: the job is redone, its candidate not rewritten."""
    from support.photos import save_photo

    folder = tmp_path / "photos"
    folder.mkdir()
    save_photo(folder, "astronaut", size=40)
    save_photo(folder, "coffee", size=40)
    edits = tmp_path / "edits.txt"
    edits.write_text("make it grayscale\nmake it sepia\n")
    args = ("--images", str(folder), "--edits", str(edits), "--editor", "classic", "--attempts", "2")
    first = mine(*args)
    assert first.code == 0 and first.stats["jobs"]["passed"] == 4  # classic: one attempt stands for both

    state = tmp_path / "pool.jsonl.state.jsonl"
    lines = state.read_bytes().splitlines(keepends=True)
    kept = [ln for ln in lines if b'"type":"source"' in ln] + [ln for ln in lines if b'"type":"job"' in ln][:2]
    state.write_bytes(b"".join(kept) + b'{"type":"job","id":"')  # 2 job lines lost, one torn

    again = mine(*args, "--resume")
    assert again.code == 0
    check_accounting(again)
    jobs = [e for e in again.state if e["type"] == "job"]
    assert len(jobs) == len({e["id"] for e in jobs}) == 4
    assert [r["id"] for r in again.pool] == [r["id"] for r in first.pool]  # nothing written twice


def test_retry_failed_after_a_provider_outage(tmp_path: Path, mine, server: Loopback, judge: Judge) -> None:
    from support.photos import save_photo

    folder = tmp_path / "photos"
    folder.mkdir()
    save_photo(folder, "astronaut", size=40)
    save_photo(folder, "coffee", size=40)
    edits = tmp_path / "edits.txt"
    edits.write_text("make it grayscale\nmake it sepia\n")
    args = ("--images", str(folder), "--edits", str(edits), "--editor", "classic", "--attempts", "1",
            "--prefilter", "openai:qwen-72b", "--base-url", server.openai_url)
    judge.outage = True
    down = mine(*args)
    assert down.code == 1 and down.stats["jobs"]["failed"] == {"prefilter_a2_http_error": 4}
    assert len(down.errors) == 4 and down.pool == []

    judge.outage = False
    assert mine(*args, "--resume").stats["jobs"]["failed"] == {"prefilter_a2_http_error": 4}  # failures are final...
    assert mine(*args, "--retry-failed").code == 2  # (only with --resume)
    back = mine(*args, "--resume", "--retry-failed")  # ...until asked to retry them
    assert back.code == 0
    assert back.stats["jobs"]["passed"] == 4 and back.stats["jobs"]["failed"] == {}
    check_accounting(back)
    assert back.errors == []  # the errors manifest keeps only failures that still stand
    assert len([e for e in back.state if e["type"] == "job"]) == 8  # each retry's line follows its failed one
