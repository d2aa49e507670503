"""Every command that writes a file, every one of its outputs, every alias form: the output is a file the
run derives from an input (`<output>.lock`), stdin redirected from it, a link to a device, a symlink or a
hard link to an input, or a folder that holds the inputs. Nothing the user had is lost in any of them."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from support.inproc import hilite_here
from support.photos import save_photo


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))


def _tasks(folder: Path) -> str:
    _write(folder / "in.jsonl", [{"id": f"t{i}", "image": "coffee.png", "instruction": "make it black and white"}
                                 for i in range(2)])
    return "in.jsonl"


def _candidates(folder: Path) -> str:
    _write(folder / "in.jsonl", [{"id": f"c{i}", "parent": "t0", "image": "coffee.png", "instruction": "edit",
                                  "model": "m", "seed": i, "output": "astronaut.png"} for i in range(2)])
    return "in.jsonl"


def _triplets(folder: Path) -> str:
    _write(folder / "in.jsonl", [{"id": f"x{i}", "source": "coffee.png", "edited": "astronaut.png", "instruction": f"e{i}",
                                  "kind": "forward", "parents": [], "scores": {"instruction": 4.9, "aesthetics": 4.8}}
                                 for i in range(2)])
    return "in.jsonl"


def _ratings(folder: Path) -> str:
    _write(folder / "in.jsonl", [{"item": f"i{k}", "rater": r, "instruction": 3.0 + k / 4, "aesthetics": 3.5}
                                 for k in range(4) for r in ("r0", "r1")])
    return "in.jsonl"


def _edits(folder: Path) -> str:
    (folder / "photos").mkdir()
    (folder / "photos" / "coffee.png").write_bytes((folder / "coffee.png").read_bytes())
    (folder / "in.txt").write_text("make it black and white\n")
    return "in.txt"


@dataclass(frozen=True)
class Command:
    name: str
    build: Callable[[Path], str]  # writes the primary input, returns its name
    args: Callable[[str, dict[str, str]], list[str]]  # (input, {option: value}) -> argv
    files: dict[str, str]  # file outputs and their usual values
    folders: dict[str, str]  # folder outputs
    stdin: bool = True  # the primary input can be `-`


def _route(i: str, o: dict[str, str]) -> list[str]:
    return ["route", i, "-o", o["-o"], "--errors", o["--errors"], "--no-progress"]


def _mask(i: str, o: dict[str, str]) -> list[str]:
    return ["mask", i, "--box", "0,0,1,1", "--out", o["--out"], "-o", o["-o"], "--errors", o["--errors"], "--no-progress"]


def _edit(i: str, o: dict[str, str]) -> list[str]:
    return ["edit", i, "--models", "classic", "--attempts", "1", "--out", o["--out"], "-o", o["-o"],
            "--errors", o["--errors"], "--no-progress"]


def _validate(i: str, o: dict[str, str]) -> list[str]:
    return ["validate", i, "--judge", "offline", "-o", o["-o"], "--errors", o["--errors"], "--export",
            f"kto={o['--export kto']}", "--dataset", o["--dataset"], "--no-progress"]


def _invert(i: str, o: dict[str, str]) -> list[str]:
    return ["invert", i, "--llm", "offline", "-o", o["-o"], "--errors", o["--errors"], "--no-progress"]


def _bootstrap(i: str, o: dict[str, str]) -> list[str]:
    return ["bootstrap", i, "-o", o["-o"], "--errors", o["--errors"], "--no-progress"]


def _export_file(i: str, o: dict[str, str]) -> list[str]:
    return ["export", i, "--format", "kto", "--to", o["--to"], "--errors", o["--errors"]]


def _export_folder(i: str, o: dict[str, str]) -> list[str]:
    return ["export", i, "--format", "ip2p", "--to", o["--to"]]


def _score(i: str, o: dict[str, str]) -> list[str]:
    return ["score-dataset", i, "--metrics", "lowlevel", "--json", o["--json"], "--report", o["--report"]]


def _debias(i: str, o: dict[str, str]) -> list[str]:
    return ["debias", i, "-o", o["-o"], "--json", o["--json"]]


def _mine(i: str, o: dict[str, str]) -> list[str]:
    return ["mine", "--images", "photos", "--edits", i, "--editor", "classic", "--no-gate", "--prefilter", "offline",
            "--attempts", "1", "-o", o["-o"], "--errors", o["--errors"], "--stats", o["--stats"], "--out", o["--out"],
            "--no-progress"]


COMMANDS = [
    Command("route", _tasks, _route, {"-o": "o.jsonl", "--errors": "e.jsonl"}, {}),
    Command("mask", _tasks, _mask, {"-o": "o.jsonl", "--errors": "e.jsonl"}, {"--out": "m"}),
    Command("edit", _tasks, _edit, {"-o": "o.jsonl", "--errors": "e.jsonl"}, {"--out": "edits"}),
    Command("validate", _candidates, _validate,
            {"-o": "o.jsonl", "--errors": "e.jsonl", "--export kto": "k.jsonl"}, {"--dataset": "ds"}),
    Command("invert", _triplets, _invert, {"-o": "o.jsonl", "--errors": "e.jsonl"}, {}),
    Command("bootstrap", _triplets, _bootstrap, {"-o": "o.jsonl", "--errors": "e.jsonl"}, {}),
    Command("export-kto", _triplets, _export_file, {"--to": "k.jsonl", "--errors": "e.jsonl"}, {}),
    Command("export-ip2p", _triplets, _export_folder, {}, {"--to": "ds"}),
    Command("score-dataset", _triplets, _score, {"--json": "s.json", "--report": "r.html"}, {}),
    Command("debias", _ratings, _debias, {"-o": "o.jsonl", "--json": "s.json"}, {}),
    Command("mine", _edits, _mine, {"-o": "pool.jsonl", "--errors": "e.jsonl", "--stats": "st.json"}, {"--out": "mined"},
            stdin=False),
]

FILE_FORMS = ("derived", "stdin", "device", "symlink", "hard-link")
CASES = [pytest.param(c, opt, form, id=f"{c.name}:{opt}:{form}")
         for c in COMMANDS for opt in c.files for form in FILE_FORMS if c.stdin or form != "stdin"]
CASES += [pytest.param(c, opt, "folder", id=f"{c.name}:{opt}:folder") for c in COMMANDS for opt in c.folders]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink()}


@pytest.mark.parametrize(("command", "option", "form"), CASES)
def test_no_alias_of_an_output_loses_anything(tmp_path: Path, command: Command, option: str, form: str) -> None:
    save_photo(tmp_path, "coffee", 32)
    save_photo(tmp_path, "astronaut", 32)
    given = command.build(tmp_path)
    outputs = {**command.files, **command.folders}
    value = outputs[option]
    inp = given
    if form == "derived":  # the input is a file the run makes beside this output
        inp = f"{value}.lock"
        os.rename(tmp_path / given, tmp_path / inp)
    elif form == "device":
        value = f"dev{Path(value).suffix}"
        (tmp_path / value).symlink_to(os.devnull)
    elif form == "symlink":
        value = f"link{Path(value).suffix}"
        (tmp_path / value).symlink_to(given)
    elif form == "hard-link":
        value = f"hard{Path(value).suffix}"
        os.link(tmp_path / given, tmp_path / value)
    elif form == "stdin":
        value = given
    elif form == "folder":
        value = "."
    outputs[option] = value
    before = _snapshot(tmp_path)
    argv = command.args("-" if form == "stdin" else inp, outputs)
    if form == "stdin":
        with (tmp_path / given).open("rb") as fh:
            res = subprocess.run([sys.executable, "-m", "hilite_cli", *argv], stdin=fh, capture_output=True,
                                 cwd=tmp_path, env=os.environ.copy(), timeout=300)
    else:
        res = hilite_here(*argv, cwd=tmp_path)
    message = res.stderr.decode(errors="replace")[-2000:]
    if form in ("derived", "stdin", "symlink", "hard-link"):
        assert res.returncode == 2 and "same file" in message, message
    else:
        assert res.returncode in (0, 1, 2) and "Traceback" not in message, message
    after = _snapshot(tmp_path)
    lost = {name for name, data in before.items() if after.get(name) != data}
    assert not lost, f"changed or removed: {sorted(lost)}\n{message}"
    if form == "device":
        assert (tmp_path / value).is_symlink() and os.readlink(tmp_path / value) == os.devnull
        assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
        assert not list(tmp_path.glob(f"{value}.*")), "a device output keeps no ledger, lock or sibling files"
