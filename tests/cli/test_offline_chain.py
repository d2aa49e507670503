"""The offline chain through real pipes: route | edit | validate | invert | bootstrap, then score and export."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from support.photos import save_photo

TASKS = [("astronaut", "make it black and white"), ("astronaut", "give it a sepia tone"),
         ("coffee", "turn it into a pencil sketch"), ("coffee", "make the photo darker")]


def test_offline_chain_through_pipes(tmp_path: Path) -> None:
    for name in {n for n, _ in TASKS}:
        save_photo(tmp_path, name, 48)
    (tmp_path / "tasks.jsonl").write_bytes(b"".join(
        orjson.dumps({"id": f"t{i}", "image": f"{n}.png", "instruction": ins}) + b"\n" for i, (n, ins) in enumerate(TASKS)))
    hilite = f"{sys.executable} -m hilite_cli"
    script = (
        f"set -o pipefail; {hilite} route tasks.jsonl"
        f" | {hilite} edit - --models classic --seeds 2 --out edits"
        f" | {hilite} validate - --judge offline --select best --export kto kto.jsonl"
        f" | {hilite} invert - --llm offline"
        f" | {hilite} bootstrap - > dataset.jsonl"
    )
    res = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, env=os.environ.copy())
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    rows = [orjson.loads(x) for x in (tmp_path / "dataset.jsonl").read_bytes().splitlines()]
    kinds = [r["kind"] for r in rows]
    assert kinds.count("forward") == 4 and kinds.count("inverse") == 4
    assert kinds.count("bootstrap") == 4  # 2 sources x 2 ordered pairs
    ids = {r["id"] for r in rows}
    assert len(ids) == len(rows)
    for r in rows:
        assert (tmp_path / r["source"]).is_file() and (tmp_path / r["edited"]).is_file()
        assert r["scores"]["instruction"] is None  # offline: no semantic score is ever invented
        for parent in r["parents"]:
            assert parent in ids or r["kind"] == "forward"
    boot = [r for r in rows if r["kind"] == "bootstrap"]
    by_id = {r["id"]: r for r in rows}
    for b in boot:  # both images come from the same source
        fwd = [by_id[p] for p in b["parents"] if p in by_id and by_id[p]["kind"] == "forward"]
        assert len({f["source"] for f in fwd}) == 1
    kto = [orjson.loads(x) for x in (tmp_path / "kto.jsonl").read_bytes().splitlines()]
    assert kto == []  # KTO needs both scores; the offline judge gives none (counted as missing, not guessed)

    res = subprocess.run(["bash", "-c", f"{hilite} export dataset.jsonl --format webdataset --to shards && "
                                        f"{hilite} score-dataset dataset.jsonl --metrics ssim,lowlevel --report r.html > /dev/null"],
                         cwd=tmp_path, capture_output=True, env=os.environ.copy())
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    assert list((tmp_path / "shards").glob("*.tar")) and (tmp_path / "r.html").stat().st_size > 1000
