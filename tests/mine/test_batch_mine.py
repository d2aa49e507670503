"""`mine --batch-api` against the loopback batch server, with the real openai and google-genai clients:
the same outcomes as plain requests, one batch job per window, a SIGKILL between submit and collect
followed by --resume (no second submission, no duplicate record), an expired batch, and --batch-wait 0."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from mine.helpers import Judge, check_accounting, collect, read_jsonl
from support.batch_configs import fast_configs
from support.cli import hilite
from support.loopback import Loopback, Received
from support.loopback_batch import Plan
from support.photos import save_photo

SPECS = {"gemini": "gemini:gemini-2.5-flash", "openai": "openai:gpt-4.1"}
EDITS = "make it sepia\nmake it darker\nmake it cooler\n"  # A.2 rejects "darker", A.3 rejects "cooler"


def judge(request: Received) -> str:
    """A.2 low for "darker", A.3 "no" for "cooler", else high scores and "yes" (the classic editor's words)."""
    text = request.text()
    if text.startswith("You are an expert evaluator"):
        low = "darker" in text
        return '{"InstructionAdherence": %s, "ImageAesthetic": %s}' % (("2.0", "3.0") if low else ("4.9", "4.8"))
    if text.startswith("You are provided with two images"):
        return "no" if "cooler" in text else "yes"
    return Judge()(request)


@pytest.fixture(params=sorted(SPECS))
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def batch_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Fast polling, both keys, and two photos with three instructions: 2 x 3 jobs (the classic editor is
    deterministic, so one attempt per pair)."""
    configs = fast_configs(tmp_path / "configs", monkeypatch)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-mine-0123456789")
    monkeypatch.setenv("GEMINI_API_KEY", "test-key-not-secret")
    (tmp_path / "photos").mkdir()
    for name in ("astronaut", "coffee"):
        save_photo(tmp_path / "photos", name, size=48)
    (tmp_path / "e.txt").write_text(EDITS)
    return {"HILITE_CONFIG_DIR": str(configs)}


def _args(server: Loopback, backend: str, *extra: str) -> list[str]:
    url = server.url if backend == "gemini" else server.openai_url
    return ["mine", "--images", "photos", "--edits", "e.txt", "--editor", "classic", "--preset", "small", "--no-gate",
            "--prefilter", SPECS[backend], "--base-url", url, "--max-retries", "0", "--no-progress",
            "-o", "pool.jsonl", "--stats", "stats.json", "--out", "mined", "--keep-rejected", *extra]


def _run(tmp_path: Path, env: dict[str, str], args: list[str]) -> Any:
    res = hilite(*args, cwd=tmp_path, env=env)
    return collect(tmp_path, res.returncode, res.stderr.decode())


def _outcomes(m: Any) -> Counter[str]:
    return Counter(e["outcome"] for e in m.state if e["type"] == "job")


def _staged(folder: Path) -> list[Path]:
    staging = folder / "mined" / "staging"
    return sorted(staging.glob("*.png")) if staging.is_dir() else []


def test_a_batch_run_judges_each_window_in_two_jobs_like_plain_requests(
    tmp_path: Path, backend: str, batch_env: dict[str, str]
) -> None:
    with Loopback(answer=judge) as server:
        m = _run(tmp_path, batch_env, _args(server, backend, "--batch-api"))
        assert m.code == 0, m.output[-3000:]
        # one window: A.2 for all six edits in one job, A.3 + A.4 for the four that passed A.2 in a second
        assert server.batches.creates == 2
        assert (tmp_path / "pool.jsonl.batches.jsonl").is_file()
        plain_dir = tmp_path / "plain"
        plain_dir.mkdir()
        for name in ("photos", "e.txt"):
            (plain_dir / name).symlink_to(tmp_path / name)
        plain = _run(plain_dir, batch_env, _args(server, backend, "--no-cache"))
        assert plain.code == 0, plain.output[-3000:]
    assert _outcomes(m) == _outcomes(plain) and _outcomes(m)["rejected:a2"] == 2 and _outcomes(m)["rejected:a3"] == 2
    check_accounting(m)
    assert len(m.pool) == 6 == len({r["id"] for r in m.pool})  # --keep-rejected: every candidate, once
    strip = ("judge", "checks", "output", "image")  # the plain run reads the photos through a symlink
    assert sorted(orjson.dumps({k: v for k, v in r.items() if k not in strip}) for r in m.pool) == \
        sorted(orjson.dumps({k: v for k, v in r.items() if k not in strip}) for r in plain.pool)
    assert _staged(tmp_path) == []  # every staged edit was judged and moved to edits/ or removed
    assert [e["type"] for e in m.state].count("awaiting") == 6


def test_sigkill_between_submit_and_collect_then_resume_submits_nothing_twice(
    tmp_path: Path, batch_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = "openai"
    with Loopback(answer=judge) as server:
        server.batches.plan(Plan(polls=10**9))  # the A.2 job runs until the test lets it finish
        proc = subprocess.Popen([sys.executable, "-m", "hilite_cli", *_args(server, backend, "--batch-api")],
                                cwd=tmp_path, env={**_environ(), **batch_env}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while server.batches.creates < 1 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # a few polls of the running job
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed = collect(tmp_path, -9, "")
        assert [e["type"] for e in killed.state].count("awaiting") == 6 and len(_staged(tmp_path)) == 6
        assert killed.pool == [] and not [e for e in killed.state if e["type"] == "job"]
        for job in server.batches.jobs.values():
            job.plan = Plan()  # the provider finishes the job while nobody waits for it

        m = _run(tmp_path, batch_env, _args(server, backend, "--batch-api", "--resume"))
        assert m.code == 0, m.output[-3000:]
        # the A.2 job was collected, not submitted again; only A.3 + A.4 is a new job
        assert server.batches.creates == 2
    ledger = read_jsonl(tmp_path / "pool.jsonl.batches.jsonl")
    assert [len(e["keys"]) for e in ledger if e["event"] == "submitted"] == [6, 8]  # A.2 once; A.3 + A.4 of four
    check_accounting(m)
    jobs = [e for e in m.state if e["type"] == "job"]
    assert len(jobs) == len({e["id"] for e in jobs}) == 6
    assert len(m.pool) == len({r["id"] for r in m.pool}) == 6
    assert _outcomes(m)["rejected:a2"] == 2 and _staged(tmp_path) == []
    assert m.stats["utilization"]["gpu_busy_s"] == 0.0  # no edit was redone


def test_an_expired_batch_fails_its_edits_and_retry_failed_scores_them(
    tmp_path: Path, backend: str, batch_env: dict[str, str]
) -> None:
    with Loopback(answer=judge) as server:
        server.batches.plan(Plan(outcome="expired"))
        m = _run(tmp_path, batch_env, _args(server, backend, "--batch-api"))
        assert m.code == 1, m.output[-3000:]
        assert _outcomes(m) == {"failed:prefilter_a2_http_error": 6} and m.pool == []  # never scored
        assert len(m.errors) == 6 and _staged(tmp_path) == []
        again = _run(tmp_path, batch_env, _args(server, backend, "--batch-api", "--resume", "--retry-failed"))
        assert again.code == 0, again.output[-3000:]
        assert server.batches.creates == 3  # the expired job, then A.2 and A.3 + A.4 again
    latest = {e["id"]: e["outcome"] for e in again.state if e["type"] == "job"}
    assert Counter(latest.values())["rejected:a2"] == 2 and again.errors == []
    check_accounting(again)


def test_batch_wait_zero_leaves_edits_awaiting_and_resume_collects_them(
    tmp_path: Path, batch_env: dict[str, str]
) -> None:
    with Loopback(answer=judge) as server:
        server.batches.plan(Plan(polls=3))
        first = _run(tmp_path, batch_env, _args(server, "gemini", "--batch-api", "--batch-wait", "0"))
        assert first.code == 0, first.output[-3000:]
        assert first.stats["jobs"]["awaiting_prefilter"] == 6 and first.stats["jobs"]["accounted"]
        assert any("await the pre-filter in batch jobs" in n for n in first.stats["notes"])
        assert len(_staged(tmp_path)) == 6 and first.pool == []
        m = _run(tmp_path, batch_env, _args(server, "gemini", "--batch-api", "--resume"))
        assert m.code == 0, m.output[-3000:]
        assert server.batches.creates == 2  # the first job collected, then A.3 + A.4
    assert m.stats["jobs"]["awaiting_prefilter"] == 0 and len(m.pool) == 6
    check_accounting(m)


@pytest.mark.parametrize("extra, words", [
    (("--executor", "ray"), "--batch-api runs with --executor local"),
    (("--prefilter", "offline"), "--batch-api needs a gemini or openai gate or pre-filter"),
])
def test_batch_api_usage_errors(tmp_path: Path, batch_env: dict[str, str], extra: tuple[str, ...], words: str) -> None:
    with Loopback(answer=judge) as server:
        res = hilite(*_args(server, "openai", "--batch-api"), *extra, cwd=tmp_path, env=batch_env)
    assert res.returncode == 2 and words in res.stderr.decode(), res.stderr.decode()[-2000:]
    assert not (tmp_path / "pool.jsonl.state.jsonl").exists()


def test_generated_sources_are_gated_in_one_batch_job(
    mine: Any, tmp_path: Path, batch_env: dict[str, str]
) -> None:
    from mine.helpers import write_specs

    specs = write_specs(tmp_path / "specs.jsonl", [
        {"t2i_prompt": "a cat on a sofa", "edits": ["make it winter", "a bad edit"]},
        {"t2i_prompt": "an implausible dog", "edits": ["make it winter"]},
    ])
    with Loopback(answer=Judge()) as server:
        m = mine(str(specs), "--gate", "openai:gpt-4.1", "--gate-base-url", server.openai_url, "--prefilter",
                 "openai:gpt-4.1", "--base-url", server.openai_url, "--batch-api", "--window", "64", "--steps", "1",
                 "--t2i-steps", "1")
        assert m.code == 0, m.output[-3000:]
        gate_jobs = [j for j in server.batches.jobs.values() if len(j.keys) == 4]
        assert len(gate_jobs) == 1  # N=2 seeds x 2 prompts, one job
        assert server.batches.creates == 3  # the gate, then A.2 and A.3 + A.4 of the one edit window
    assert m.stats["sources"]["outcomes"] == {"gated": 2, "rejected:gate": 2}
    assert Counter(e["outcome"] for e in m.state if e["type"] == "job")["rejected:a2"] == 4
    check_accounting(m)
    assert read_jsonl(tmp_path / "pool.jsonl.batches.jsonl")
    # without --keep-rejected only passing edits stay on disk; nothing is left in staging
    kept = {Path(r["output"]).name for r in m.pool}
    assert kept == {p.name for p in (tmp_path / "mined" / "edits").glob("*.png")} and _staged(tmp_path) == []
    assert all(r["passed"] for r in m.pool)


def _environ() -> dict[str, str]:
    import os

    return {**os.environ, "HF_HUB_OFFLINE": "1"}


@pytest.mark.parametrize("schedule", [("--schedule", "adaptive"), ("--until-first-pass",)])
def test_schedules_that_need_verdicts_get_one_batch_job_per_scheduler_window(
    tmp_path: Path, batch_env: dict[str, str], schedule: tuple[str, ...]
) -> None:
    with Loopback(answer=judge) as server:
        m = _run(tmp_path, batch_env, _args(server, "openai", "--batch-api", "--window", "2", *schedule))
        assert m.code == 0, m.output[-3000:]
    ledger = read_jsonl(tmp_path / "pool.jsonl.batches.jsonl")
    sizes = [len(e["keys"]) for e in ledger if e["event"] == "submitted"]
    # each window of 2 edits: an A.2 job of at most 2, then A.3 + A.4 of at most 2 x 2: judged before the next draw
    assert len(sizes) >= 3 and max(sizes) <= 4
    check_accounting(m)
    assert _outcomes(m)["rejected:a2"] == 2 and _staged(tmp_path) == []


def test_staged_copies_of_judged_edits_are_cleared(tmp_path: Path) -> None:
    """A kill between a job's state line and the removal of its staged copy leaves a file the next run clears."""
    from hilite_cli.stages.mine.windows import clear_judged

    staging = tmp_path / "staging"
    staging.mkdir()
    for name in ("judged", "awaiting"):
        (staging / f"{name}.png").write_bytes(b"png")
    clear_judged(tmp_path, {"judged"})
    assert [p.name for p in staging.iterdir()] == ["awaiting.png"]


def test_sources_awaiting_the_gate_are_gated_on_resume_without_generating_them_again(
    mine: Any, tmp_path: Path, batch_env: dict[str, str]
) -> None:
    """--batch-wait 0 leaves the gate's job running: the written sources stay `awaiting:gate` (no jobs
    drawn on them, nothing failed); --resume gates the same bytes, so the runner collects that job
    (one gate job in all) and no source is generated a second time (one line with GPU seconds each)."""
    from mine.helpers import write_specs

    specs = write_specs(tmp_path / "specs.jsonl", [
        {"t2i_prompt": "a cat on a sofa", "edits": ["make it winter"]},
        {"t2i_prompt": "an implausible dog", "edits": ["make it winter"]},
    ])
    args = (str(specs), "--gate", "openai:gpt-4.1", "--gate-base-url", "", "--prefilter", "openai:gpt-4.1",
            "--base-url", "", "--batch-api", "--window", "64", "--steps", "1", "--t2i-steps", "1")
    with Loopback(answer=Judge()) as server:
        server.batches.plan(Plan(polls=3))
        urls = [server.openai_url if a == "" else a for a in args]
        first = mine(*urls, "--batch-wait", "0")
        assert first.code == 0, first.output[-3000:]
        waiting = [e for e in first.state if e["outcome"] == "awaiting:gate"]
        assert len(waiting) == 4 and not [e for e in first.state if e["type"] in ("source", "job")]
        assert first.stats["sources"]["awaiting_gate"] == 4 and first.stats["sources"]["not_made"] == 0
        assert any("await the gate in a batch job" in n for n in first.stats["notes"])
        assert server.batches.creates == 1
        m = mine(*urls, "--resume")
        assert m.code == 0, m.output[-3000:]
        assert server.batches.creates == 3  # the gate's job collected, not created again; then A.2 and A.3 + A.4
    assert m.stats["sources"]["outcomes"] == {"gated": 2, "rejected:gate": 2}
    timed = Counter(e["id"] for e in m.state if e.get("kind") == "t2i" and e["gpu_s"] > 0)
    assert len(timed) == 4 and set(timed.values()) == {1}
    check_accounting(m)


def test_a_corrupt_staged_edit_fails_its_own_job_on_resume_and_the_others_are_judged(
    tmp_path: Path, batch_env: dict[str, str]
) -> None:
    with Loopback(answer=judge) as server:
        server.batches.plan(Plan(polls=3))
        first = _run(tmp_path, batch_env, _args(server, "openai", "--batch-api", "--batch-wait", "0"))
        assert first.code == 0, first.output[-3000:]
        staged = _staged(tmp_path)
        assert len(staged) == 6
        staged[0].write_bytes(b"not a png")
        m = _run(tmp_path, batch_env, _args(server, "openai", "--batch-api", "--resume"))
    assert m.code in (0, 1), m.output[-3000:]
    failed = [e for e in m.state if e["type"] == "job" and e["outcome"].startswith("failed:")]
    assert [e["id"] for e in failed] == [staged[0].stem] and failed[0]["outcome"] == "failed:bad_image"
    assert sum(_outcomes(m).values()) == 6 and _staged(tmp_path) == []
    assert any(staged[0].stem in (r.get("error") or {}).get("message", "") for r in m.errors)
