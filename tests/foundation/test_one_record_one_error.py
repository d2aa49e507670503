"""Whatever goes wrong with one record (nested too deep to re-serialise, a NUL byte in a path) is that
record's error record: the run goes on, and --resume does not stop on it again."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from support.inproc import hilite_here
from support.photos import save_photo

from hilite_cli.core import Record
from hilite_cli.engine.local import run_stage
from hilite_cli.manifest import ErrorManifest, Line, ManifestWriter
from hilite_cli.stages.base import Stage


def _nested(depth: int, rid: str | None) -> bytes:
    head = b'{"id":"%s",' % rid.encode() if rid else b"{"
    return head + b'"image":"coffee.png","instruction":"x","meta":' + b"[" * depth + b"]" * depth + b"}"


def _manifest(folder: Path) -> Path:
    save_photo(folder, "coffee", 16)
    good = [orjson.dumps({"id": f"ok{i}", "image": "coffee.png", "instruction": "make it black and white"}) for i in range(2)]
    lines = [good[0], _nested(300, "deep"), _nested(1000, None), orjson.dumps({"id": "nul", "image": "a\u0000.png"}), good[1]]
    path = folder / "t.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.parametrize("stage", [
    ("route",),
    ("mask", "--box", "0,0,0.5,0.5", "--out", "m"),
    ("validate", "--judge", "offline"),
    ("bootstrap",),
])
def test_odd_records_become_error_records_and_the_run_goes_on(tmp_path: Path, stage: tuple[str, ...]) -> None:
    _manifest(tmp_path)
    args = (stage[0], "t.jsonl", *stage[1:], "-o", "out.jsonl", "--no-progress")
    res = hilite_here(*args, cwd=tmp_path)
    assert res.returncode == 1, res.stderr
    errors = [orjson.loads(x) for x in (tmp_path / "out.jsonl.errors.jsonl").read_bytes().splitlines()]
    by_line = {int(e["error"]["message"].split(":")[0].removeprefix("line ")): e for e in errors}
    for number in (2, 3):  # nested 300 and 1000 deep: named, without the body that cannot be written
        assert "nested too deeply" in by_line[number]["error"]["message"]
        assert "meta" not in by_line[number]
    assert by_line[2]["id"] == "deep"
    assert "null byte" in by_line[4]["error"]["message"]
    if stage[0] in ("route", "mask"):  # the good records on either side went through
        out = [orjson.loads(x)["id"] for x in (tmp_path / "out.jsonl").read_bytes().splitlines()]
        assert out == ["ok0", "ok1"]
        again = hilite_here(*args, "--resume", cwd=tmp_path)
        assert again.returncode == 1 and b"2 skipped" in again.stderr and b"3 failed" in again.stderr


class _Tagger(Stage):
    """A stage whose output for one record holds a value JSON has no form for."""

    name = "tag"

    def __call__(self, batch: list[Record]) -> list[Record]:
        return [{**r, "tag": object() if r["id"] == "odd" else "fine"} for r in batch]


def test_an_output_record_that_cannot_be_written_is_its_error_and_the_others_are_written(tmp_path: Path) -> None:
    lines = [Line(n, {"id": rid}) for n, rid in enumerate(("a", "odd", "b"), start=1)]
    out, err = tmp_path / "out.jsonl", tmp_path / "err.jsonl"
    with ManifestWriter(str(out)) as writer, ErrorManifest(str(err)) as errors:
        summary = run_stage(_Tagger(), lines, writer, errors, progress=False)
    assert (summary.done, summary.failed) == (2, 1)
    assert [orjson.loads(x)["id"] for x in out.read_bytes().splitlines()] == ["a", "b"]
    [error] = [orjson.loads(x) for x in err.read_bytes().splitlines()]
    assert error["id"] == "odd" and error["error"]["kind"] == "unwritable_record"
    assert error["error"]["message"].startswith("line 2: ")
