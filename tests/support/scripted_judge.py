"""Scripted answers for NHR's judge and inversion prompts, served by the loopback server.

The script is keyed by what identifies each question in the request itself, never by call order,
so answers stay right under concurrency and retries:
- A.2 scores: (instruction, sha256 of the EDITED image, i.e. the second image sent);
- A.3 / A.4 yes/no: (prompt, sha256 of the edited image) — A.4 sends only the edited image;
- A.6 inversions: the forward instruction, with a second answer for the retry request;
- bootstrap's rewrite of two steps into one instruction: (step 1, step 2).
An unscripted question gets a 501, which the client reports as `http_error`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.loopback import Raw, Received, Reply

from hilite_cli.manifest import ErrorManifest, ManifestWriter, read_manifest, read_records
from hilite_cli.records import Record

_A2 = re.compile(r"\*\*Editing Instruction\*\*:\n' (?P<instruction>.*) '\n", re.DOTALL)
_A3 = re.compile(r'according to the following instruction:\n\n"(?P<instruction>.*)"\nExamine', re.DOTALL)
_A6 = re.compile(r'Editing instruction: "(?P<instruction>.*)"\nWrite', re.DOTALL)
_MERGE = re.compile(r'Step 1: "(?P<first>.*)"\nStep 2: "(?P<second>.*)"\nWrite', re.DOTALL)
RETRY_MARK = "Your previous answer used a forbidden word"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha(path: str | Path) -> str:
    return sha(Path(path).read_bytes())


def scores(adherence: float, aesthetics: float) -> str:
    return f'{{"InstructionAdherence": {adherence}, "ImageAesthetic": {aesthetics}}}'


@dataclass
class ScriptedJudge:
    """A loopback `answer` callable; fill the tables, then hand it to `Loopback(answer=...)`."""

    scores: dict[tuple[str, str], Reply | str] = field(default_factory=dict)
    unwanted: dict[str, Reply | str] = field(default_factory=dict)  # edited sha -> A.3 reply
    aesthetic: dict[str, Reply | str] = field(default_factory=dict)  # edited sha -> A.4 reply
    inversions: dict[str, tuple[Reply | str, ...]] = field(default_factory=dict)  # forward instr -> (first, retry)
    merges: dict[tuple[str, str], Reply | str] = field(default_factory=dict)  # bootstrap's two steps -> rewrite
    asked: list[tuple[str, str]] = field(default_factory=list)  # (prompt kind, key) per request

    def score(self, instruction: str, edited: str | Path, reply: Reply | str) -> None:
        self.scores[(instruction, file_sha(edited))] = reply

    def __call__(self, request: Received) -> Reply | str:
        text = request.text()
        images = request.images()
        if match := _A2.search(text):
            key = (match["instruction"], sha(images[1]))
            return self._answer("a2", key, self.scores.get(key))
        if match := _A3.search(text):
            return self._answer("a3", sha(images[1]), self.unwanted.get(sha(images[1])))
        if "expert in visual aesthetics" in text:
            return self._answer("a4", sha(images[0]), self.aesthetic.get(sha(images[0])))
        if match := _A6.search(text):
            replies = self.inversions.get(match["instruction"], ())
            retry = RETRY_MARK in text
            reply = replies[1 if retry else 0] if len(replies) > (1 if retry else 0) else None
            return self._answer("a6-retry" if retry else "a6", match["instruction"], reply)
        if match := _MERGE.search(text):
            key = (match["first"], match["second"])
            return self._answer("merge", key, self.merges.get(key))
        return Raw(501, {"error": {"code": 501, "message": "scripted judge: unknown prompt"}})

    def _answer(self, kind: str, key: Any, reply: Reply | str | None) -> Reply | str:
        self.asked.append((kind, str(key)))
        if reply is None:
            return Raw(501, {"error": {"code": 501, "message": f"scripted judge: nothing for {kind} {key}"}})
        return reply

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.asked if k == kind)


def run_through(stage: Any, records: list[Record], folder: Path, name: str = "run") -> tuple[list[Record], list[Record], Any]:
    """Run `stage` with the real local executor over `records` written as a manifest; read both outputs back."""
    from hilite_cli.engine.local import run_stage

    folder.mkdir(parents=True, exist_ok=True)
    src = folder / f"{name}.in.jsonl"
    with ManifestWriter(str(src), dedupe=False) as writer:
        for record in records:
            writer.write(record)
    out_path, err_path = folder / f"{name}.jsonl", folder / f"{name}.errors.jsonl"
    out = ManifestWriter(str(out_path))
    err = ErrorManifest(str(err_path))
    try:
        summary = run_stage(stage, read_manifest(str(src)), out, err, progress=False)
    finally:
        out.close()
        err.close()
    errors = read_records(str(err_path)) if err_path.exists() else []
    return read_records(str(out_path)), errors, summary


# ---- tiny scenes: real PNG files whose edits the low-level check can tell apart -----------------

SIZE = 32


def write_source(path: Path, seed: int) -> str:
    """A noise image: every source differs in content, so its hash identifies it."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)).save(path)
    return str(path.resolve())


def write_block_edit(source: str, path: Path, colour: tuple[int, int, int]) -> str:
    """One coherent changed region (passes NHR's low-level check); `colour` makes each edit unique."""
    import numpy as np
    from PIL import Image

    arr = np.asarray(Image.open(source)).copy()
    arr[8:20, 8:20] = colour
    Image.fromarray(arr).save(path)
    return str(path.resolve())


def write_speckle_edit(source: str, path: Path) -> str:
    """256 isolated changed pixels: the largest component is 1/256 < 0.5 % of the change -> fragmented."""
    import numpy as np
    from PIL import Image

    arr = np.asarray(Image.open(source)).copy()
    arr[::2, ::2] = 255 - arr[::2, ::2]
    arr[::2, ::2] = np.where(np.abs(arr[::2, ::2].astype(int) - 127) < 60, 0, arr[::2, ::2])
    Image.fromarray(arr).save(path)
    return str(path.resolve())


def candidate(cid: str, source: str, instruction: str, output: str, **extra: Any) -> Record:
    return {
        "id": cid, "parent": f"task-{Path(source).stem}", "image": source, "instruction": instruction,
        "model": "classic", "seed": 0, "params": {"steps": 1}, "output": output, "slot": "0", **extra,
    }
