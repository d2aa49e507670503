"""How validate's judge gets its images: each file read and checked once, on the image pool (never on the
threads that make the calls), sent as its own bytes when it is a plain PNG or JPEG, and the record says
which encoding each image went in; the offline judge reads none."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from support.loopback import Loopback
from support.scripted_judge import (
    ScriptedJudge,
    candidate,
    file_sha,
    run_through,
    scores,
    write_block_edit,
    write_source,
)

import hilite_cli.image_wire as wire
from hilite_cli.stages.validate import ValidateStage

INSTRUCTION = "Remove the vase."


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(path, thread name) of every image prepared for a judge (the real `sendable` still does the work)."""
    seen: list[tuple[str, str]] = []
    real = wire.sendable

    def recording(path: Any, settings: Any = None) -> Any:
        seen.append((str(path), threading.current_thread().name))
        return real(path, settings)

    monkeypatch.setattr(wire, "sendable", recording)
    return seen


def test_each_image_is_read_once_off_the_calling_threads_and_sent_as_it_is(
    tmp_path: Path, judge: ScriptedJudge, server: Loopback, spec: str, options: dict[str, Any],
    reads: list[tuple[str, str]],
) -> None:
    src = write_source(tmp_path / "s.png", 1)
    edits = [write_block_edit(src, tmp_path / f"e{i}.png", (250, 40 * i, 0)) for i in range(3)]
    for path in edits:
        judge.score(INSTRUCTION, path, scores(4.9, 4.9))
        judge.unwanted[file_sha(path)] = "yes"
        judge.aesthetic[file_sha(path)] = "Yes."
    records = [candidate(f"c{i}", src, INSTRUCTION, path) for i, path in enumerate(edits)]

    stage = ValidateStage(spec, checks="unwanted,aesthetic", provider_options={**options, "concurrency": 4})
    out, errors, _ = run_through(stage, records, tmp_path / "run")

    assert errors == [] and [r["passed"] for r in out] == [True, True, True]
    # the shared source and each edit: read once for A.2, A.3 and A.4 together, on the pool's threads
    assert Counter(path for path, _ in reads) == Counter({src: 1, **{e: 1 for e in edits}})
    assert {name.split("_")[0] for _, name in reads} == {"images"}
    for record in out:
        assert record["judge"]["images"] == ["original png", "original png"]
        assert record["checks"]["unwanted"]["images"] == ["original png", "original png"]
        assert record["checks"]["aesthetic"]["images"] == ["original png"]
    a2 = [r for r in server.requests if "Instruction Adherence" in r.text()]
    assert len(a2) == 3
    for request in a2:  # the bytes on disk, not a re-encoding of them
        assert request.images()[0] == Path(src).read_bytes()
        assert request.images()[1] in {Path(e).read_bytes() for e in edits}


def test_an_unreadable_edit_fails_its_record_only(
    tmp_path: Path, judge: ScriptedJudge, server: Loopback, spec: str, options: dict[str, Any],
) -> None:
    src = write_source(tmp_path / "s.png", 2)
    good = write_block_edit(src, tmp_path / "good.png", (250, 0, 0))
    judge.score(INSTRUCTION, good, scores(4.9, 4.9))
    broken = tmp_path / "broken.png"
    broken.write_bytes(Path(good).read_bytes()[:100])
    records = [candidate("good", src, INSTRUCTION, good), candidate("broken", src, INSTRUCTION, str(broken)),
               candidate("missing", src, INSTRUCTION, str(tmp_path / "nowhere.png"))]
    out, errors, _ = run_through(ValidateStage(spec, provider_options=options), records, tmp_path / "run")
    assert [r["id"] for r in out] == ["good"]
    assert {e["id"]: e["error"]["kind"] for e in errors} == {"broken": "bad_image", "missing": "bad_image"}
    assert "broken.png" in next(e for e in errors if e["id"] == "broken")["error"]["message"]


def test_the_offline_judge_reads_and_encodes_nothing_for_its_asks(tmp_path: Path, reads: list[tuple[str, str]]) -> None:
    src = write_source(tmp_path / "s.png", 3)
    edit = write_block_edit(src, tmp_path / "e.png", (250, 0, 0))
    out, errors, _ = run_through(ValidateStage("offline"), [candidate("c", src, INSTRUCTION, edit)], tmp_path / "run")
    assert errors == [] and out[0]["passed"] is True and out[0]["judge"]["status"] == "unavailable"
    assert out[0]["judge"]["images"] == []  # nothing went to a judge
    assert reads == []


def test_the_next_batch_is_asked_while_this_one_is_still_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No pause at batch boundaries: with 2 calls allowed and batches of 8, a call of the next batch
    starts before the last answer of the one before comes back (the local executor's prefetch)."""
    monkeypatch.setenv("OPENAI_API_KEY", "test-key-not-secret")
    import time

    spans: dict[int, list[float]] = {}

    def answer(request: Any) -> str:
        index = int(request.text().rsplit("edit number ", 1)[1].split()[0].strip(".'\""))
        spans[index] = [time.monotonic()]
        time.sleep(0.05 + 0.1 * (index % 8 == 7))  # the last of each batch is the slowest
        spans[index].append(time.monotonic())
        return scores(4.9, 4.9)

    src = write_source(tmp_path / "s.png", 4)
    edits = [write_block_edit(src, tmp_path / f"e{i}.png", (250, 10 * i, 0)) for i in range(24)]
    records = [candidate(f"c{i:02d}", src, f"edit number {i}", path) for i, path in enumerate(edits)]
    with Loopback(answer=answer) as server:
        options = {"base_url": server.openai_url, "max_retries": 0, "concurrency": 2, "use_cache": False}
        stage = ValidateStage("openai:gpt-4.1", batch_size=1, provider_options=options)
        assert stage.batch_size == 8  # [judge_images] rounds (4) x --concurrency
        out, errors, _ = run_through(stage, records, tmp_path / "run")
    assert errors == [] and [r["id"] for r in out] == [f"c{i:02d}" for i in range(24)]
    for last in (7, 15):
        assert min(spans[i][0] for i in range(last + 1, last + 9)) < spans[last][1]
