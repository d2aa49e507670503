"""SIGKILL a stage at a random point, restart it with --resume: the final manifest has the same
records (ids) and the same images (content hashes) as an uninterrupted run, each exactly once."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from e2e.conftest import write_tasks
from support.loopback import Loopback
from support.photos import photo

HILITE = [sys.executable, "-m", "hilite_cli"]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def content(folder: Path, manifest: str, image_field: str) -> list[tuple[str, str]]:
    rows = [orjson.loads(x) for x in (folder / manifest).read_bytes().splitlines()]
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "a record was written twice"
    return sorted((r["id"], sha(folder / r[image_field])) for r in rows)


def kill_after(args: list[str], cwd: Path, output: Path, lines: int, timeout: float = 300) -> None:
    """Start the stage, SIGKILL it once `output` holds at least `lines` lines."""
    proc = subprocess.Popen(HILITE + args, cwd=cwd, env=os.environ.copy(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if output.exists() and output.read_bytes().count(b"\n") >= lines:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the stage finished before it could be killed: make the run longer"
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def run(args: list[str], cwd: Path) -> None:
    res = subprocess.run(HILITE + args, cwd=cwd, env=os.environ.copy(), capture_output=True, timeout=600)
    assert res.returncode == 0, res.stderr.decode()[-3000:]


@pytest.mark.parametrize("seed", [1])
def test_edit_killed_and_resumed(tmp_path: Path, tiny_ip2p: Path, seed: int) -> None:
    args = ["edit", "tasks.jsonl", "--models", "instruct-pix2pix", "--weights", f"instruct-pix2pix={tiny_ip2p}",
            "--seeds", "2", "--steps", "2", "--out", "edits", "-o", "c.jsonl", "--no-progress"]
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    for folder in (clean, killed):
        folder.mkdir()
        write_tasks(folder, 12)
    run(args, clean)
    kill_after(args, killed, killed / "c.jsonl", random.Random(seed).randint(2, 16))
    run(args + ["--resume"], killed)
    assert content(killed, "c.jsonl", "output") == content(clean, "c.jsonl", "output")


def _candidates(folder: Path, n: int) -> None:
    src = photo("astronaut", 32)
    src.save(folder / "src.png")
    rows = []
    for i in range(n):
        edited = src.point(lambda v, i=i: min(255, v + 3 * i + 50))
        edited.save(folder / f"e{i}.png")
        rows.append({"id": f"c{i:02d}", "parent": f"t{i % 4}", "image": "src.png", "instruction": f"edit {i % 4}",
                     "model": "m", "seed": i, "output": f"e{i}.png"})
    (folder / "c.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))


def test_validate_killed_and_resumed(tmp_path: Path, gemini_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    with Loopback(answer=lambda r: '{"InstructionAdherence": 4.9, "ImageAesthetic": 4.8}', latency=0.15) as slow:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", slow.url)
        args = ["validate", "c.jsonl", "--judge", "gemini:gemini-2.5-flash", "--batch-size", "1", "--keep", "all",
                "-o", "v.jsonl", "--no-progress"]
        clean, killed = tmp_path / "clean", tmp_path / "killed"
        for folder in (clean, killed):
            folder.mkdir()
            _candidates(folder, 16)
        monkeypatch.setenv("HILITE_CACHE_DIR", str(tmp_path / "cache-clean"))
        run(args, clean)
        monkeypatch.setenv("HILITE_CACHE_DIR", str(tmp_path / "cache-killed"))
        kill_after(args, killed, killed / "v.jsonl", random.Random(7).randint(2, 12))
        run(args + ["--resume"], killed)
    assert content(killed, "v.jsonl", "output") == content(clean, "v.jsonl", "output")
    rows = [orjson.loads(x) for x in (killed / "v.jsonl").read_bytes().splitlines()]
    assert all(r["passed"] and r["scores"]["instruction"] == 4.9 for r in rows)


def test_mine_killed_and_resumed(tmp_path: Path, tiny_ip2p: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    from support.tiny_models import build

    flux = build("flux-schnell", tmp_path_factory.mktemp("flux") / "flux-schnell")
    specs = [{"id": "s1", "t2i_prompt": "a cat on a sofa", "edits": ["make it winter", "make it a painting"]},
             {"id": "s2", "t2i_prompt": "a red boat on a lake", "edits": ["add a bird", "make it night"]}]
    args = ["mine", "specs.jsonl", "--preset", "small", "--no-gate", "--prefilter", "offline", "--no-lowlevel",
            "--keep-rejected", "--n-sources", "2", "--attempts", "3", "--window", "2", "--steps", "2", "--t2i-steps", "1",
            "--weights", f"flux-schnell={flux}", "--weights", f"instruct-pix2pix={tiny_ip2p}",
            "--editor", "instruct-pix2pix", "-o", "pool.jsonl", "--out", "mined", "--no-progress"]
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    for folder in (clean, killed):
        folder.mkdir()
        (folder / "specs.jsonl").write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in specs))
    run(args, clean)
    expected = content(clean, "pool.jsonl", "output")
    assert len(expected) == 2 * 2 * 2 * 3  # 2 prompts x 2 sources x 2 edits x 3 attempts, all kept
    kill_after(args, killed, killed / "pool.jsonl", random.Random(3).randint(2, 20))
    run(args + ["--resume"], killed)
    assert content(killed, "pool.jsonl", "output") == expected
    state = [orjson.loads(x) for x in (killed / "pool.jsonl.state.jsonl").read_bytes().splitlines()]
    jobs = [e["id"] for e in state if e["type"] == "job"]
    assert len(jobs) == len(set(jobs)) == 24  # every job exactly once
