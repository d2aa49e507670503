"""The full chain as a user runs it in a shell: real subprocesses, real pipes, `-` for stdin, tiny
local diffusers weights and the real Gemini SDK against the loopback server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from e2e.conftest import write_tasks


def read(path: Path) -> list[dict]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()] if path.exists() else []


def test_full_chain_through_pipes(tmp_path: Path, tiny_ip2p: Path, gemini_env: dict[str, str], server) -> None:
    write_tasks(tmp_path, 6)
    h = f"{sys.executable} -m hilite_cli"
    script = (
        "set -o pipefail; "
        f"{h} route tasks.jsonl --provider gemini:gemini-2.5-flash --no-progress"
        f" | {h} edit - --models instruct-pix2pix --weights instruct-pix2pix={tiny_ip2p} --seeds 3 --steps 2"
        "     --out edits --no-progress"
        " | tee candidates.jsonl"
        f" | {h} validate - --judge gemini:gemini-2.5-flash --threshold 4.7 --select best --no-progress"
        f" | {h} invert - --llm gemini:gemini-2.5-flash --no-progress"
        f" | {h} bootstrap - --no-progress > dataset.jsonl"
        f" && {h} score-dataset dataset.jsonl --metrics judge,ssim --judge gemini:gemini-2.5-flash"
        "     --json scores.json --no-progress > scored.jsonl"
    )
    res = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, env=os.environ.copy(), timeout=600)
    assert res.returncode == 0, res.stderr.decode()[-4000:]

    candidates = {c["id"]: c for c in read(tmp_path / "candidates.jsonl")}
    assert len(candidates) == 18  # 6 tasks x 1 model x 3 seeds
    dataset = read(tmp_path / "dataset.jsonl")
    by_id = {r["id"]: r for r in dataset}
    assert len(by_id) == len(dataset)
    forwards = [r for r in dataset if r["kind"] == "forward"]
    assert forwards, "the scripted judge passes some candidates"
    for fwd in forwards:  # each forward is the argmax passing candidate of its task
        [cid] = fwd["parents"]
        chosen = candidates[cid]
        group = [c for c in candidates.values() if c["parent"] == chosen["parent"]]
        assert fwd["scores"]["geometric"] >= 4.7 or fwd["scores"]["instruction"] >= 4.7
        assert (tmp_path / chosen["output"]).samefile(tmp_path / fwd["edited"])
        assert len(group) == 3
    for rec in dataset:  # provenance resolves to existing images and known records
        assert (tmp_path / rec["source"]).is_file() and (tmp_path / rec["edited"]).is_file()
        for parent in rec["parents"]:
            assert parent in by_id or parent in candidates
        if rec["kind"] == "inverse":
            fwd = by_id[rec["parents"][0]]
            assert (rec["source"], rec["edited"]) == (fwd["edited"], fwd["source"])
    assert sum(r["kind"] == "inverse" for r in dataset) == len(forwards)
    scores = orjson.loads((tmp_path / "scores.json").read_bytes())
    assert scores["datasets"]

    # Re-running the judged steps hits the cache: no request reaches the server.
    server.requests.clear()
    again = subprocess.run(["bash", "-c", f"{h} validate candidates.jsonl --judge gemini:gemini-2.5-flash "
                                          "--select best --no-progress > again.jsonl"],
                           cwd=tmp_path, capture_output=True, env=os.environ.copy(), timeout=300)
    assert again.returncode == 0, again.stderr.decode()[-2000:]
    assert server.requests == []
    assert [r["id"] for r in read(tmp_path / "again.jsonl")] == [r["id"] for r in forwards]
