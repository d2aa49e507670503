"""The same stage gives the same manifest on every executor (STYLE: one test over every executor)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from support.cli import hilite
from support.photos import save_photo


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_mask_same_output_on_every_executor(tmp_path: Path, executor: str) -> None:
    img = save_photo(tmp_path, "coffee", 32)
    lines = [orjson.dumps({"id": f"t{i}", "image": img.name, "instruction": "x"}) for i in range(6)]
    lines.insert(3, b"{bad")
    (tmp_path / "t.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    res = hilite("mask", "t.jsonl", "--box", "0,0,0.5,1", "--out", "m", "-o", "o.jsonl",
                 "--executor", executor, "--workers", "2", cwd=tmp_path,
                 env={"RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"})
    assert res.returncode == 1, res.stderr.decode()[-2000:]
    out = [orjson.loads(x) for x in (tmp_path / "o.jsonl").read_bytes().splitlines()]
    assert [r["id"] for r in out] == [f"t{i}" for i in range(6)]
    assert len({r["mask"] for r in out}) == 1 and (tmp_path / out[0]["mask"]).is_file()
    assert len((tmp_path / "o.jsonl.errors.jsonl").read_bytes().splitlines()) == 1
