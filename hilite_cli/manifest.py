"""Streaming JSONL manifests: read, write, resume, error records.

Paths in records are resolved against the manifest's own directory on read (the current directory
for stdin) and written relative to the output manifest's directory (the current directory for
stdout), so `a | b` resolves the same paths that `a -o x.jsonl; b x.jsonl` does.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

import orjson

from hilite_cli.core import PATH_FIELDS, Record, stable_id

STDIO = "-"


class ManifestError(Exception):
    """The manifest itself cannot be opened: a usage error (exit code 2), not a record error."""


@dataclass(frozen=True)
class Line:
    """One input line: a parsed record, or the reason it could not be parsed."""

    number: int
    record: Record | None
    problem: str | None = None
    raw: str = ""

    def error_record(self, stage: str) -> Record:
        """The error record of a line that could not be parsed, naming its number and the problem."""
        return {
            "line": self.number,
            "raw": self.raw,
            "error": {"stage": stage, "kind": "malformed_line", "message": f"line {self.number}: {self.problem}"},
        }


def manifest_dir(path: str) -> Path:
    return Path.cwd() if path == STDIO else Path(path).resolve().parent


def _is_url(value: str) -> bool:
    return "://" in value


@functools.lru_cache(maxsize=4096)
def _real_dir(folder: str) -> str:
    return os.path.realpath(folder)


@functools.lru_cache(maxsize=65536)
def _resolve(base: Path, path: str) -> str:
    """`(base / path).resolve()`, cached, and with the folder's resolution cached apart: a manifest's
    images share a few folders (and often files), and resolving every component of every path was
    most of the cost of reading a manifest. The file itself is still followed when it is a link."""
    joined = os.path.join(base, path)
    if ".." in joined.split(os.sep):  # `link/..` is the link target's parent: only realpath knows it
        return os.path.realpath(joined)
    folder, name = os.path.split(os.path.normpath(joined))
    if name in ("", "."):
        return os.path.realpath(joined)
    resolved = os.path.join(_real_dir(folder), name)
    return os.path.realpath(resolved) if os.path.islink(resolved) else resolved


def resolve_paths(record: Record, base: Path, extra: tuple[str, ...] = ()) -> Record:
    """Absolute paths for the path fields (`~` expanded); URLs and everything else untouched."""
    out = dict(record)
    for field in PATH_FIELDS + extra:
        value = out.get(field)
        if isinstance(value, str) and value and not _is_url(value):
            path = os.path.expanduser(value)
            out[field] = path if os.path.isabs(path) else _resolve(base, path)
    return out


def relativize_paths(record: Record, base: Path, extra: tuple[str, ...] = ()) -> Record:
    out = dict(record)
    for field in PATH_FIELDS + extra:
        value = out.get(field)
        if isinstance(value, str) and os.path.isabs(value):
            out[field] = os.path.relpath(value, base)
    return out


def _open_input(path: str) -> BinaryIO:
    if path == STDIO:
        return sys.stdin.buffer
    if not Path(path).is_file():
        raise ManifestError(missing_manifest(path))
    return Path(path).open("rb")


def missing_manifest(path: str) -> str:
    """Why `path` cannot be read as a manifest."""
    if Path(path).is_dir():
        return f"input manifest {path} is a folder: give a .jsonl file (or - for stdin)"
    return f"input manifest not found: {path}"


_BOM = b"\xef\xbb\xbf"
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"), (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"), (b"%PDF", "a PDF"),
    (b"PK\x03\x04", "a zip archive"), (b"\x1f\x8b", "a gzip archive"),
)
SNIFF_BYTES = 4096


def binary_problem(head: bytes) -> str | None:
    """Why the first bytes of a would-be manifest show it is not JSONL text (an image, an archive), if so."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    if b"\x00" in head:
        return "binary data (NUL bytes)"
    lines = [ln for ln in head.split(b"\n")[:-1] if ln.strip()] or [head]
    undecodable = sum(1 for ln in lines if not _utf8(ln))
    return "binary data (not UTF-8 text)" if undecodable * 2 > len(lines) else None


def _utf8(chunk: bytes) -> bool:
    """True for UTF-8 text; a character cut at the end of the sniffed bytes still counts as text."""
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.reason == "unexpected end of data"
    return True


def _peek(fh: BinaryIO) -> bytes:
    peek = getattr(fh, "peek", None)
    return peek(SNIFF_BYTES)[:SNIFF_BYTES] if peek is not None else b""


def check_manifest_text(path: str) -> None:
    """Raise `ManifestError` up front when the input is plainly not JSONL (`hilite validate photo.png`).

    Stdin is peeked, not consumed, so the stage still reads every byte.
    """
    if path == STDIO:
        head = _peek(sys.stdin.buffer)
    else:
        try:
            with open(path, "rb") as fh:
                head = fh.read(SNIFF_BYTES)
        except OSError as exc:
            raise ManifestError(f"cannot read input manifest {path}: {exc.strerror or exc}") from None
    _refuse_binary(head, path)


def _refuse_binary(head: bytes, path: str) -> None:
    problem = binary_problem(head)
    if problem:
        name = "stdin" if path == STDIO else path
        raise ManifestError(f"input manifest {name} is {problem}, not JSONL: give a .jsonl manifest "
                            "(one JSON object per line)")


def _parse_line(number: int, text: bytes, base: Path, assign_ids: bool, path_fields: tuple[str, ...]) -> Line:
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return Line(number, None, f"malformed JSON: {exc}", text.decode("utf-8", "replace")[:200])
    if not isinstance(record, dict):
        return Line(number, None, f"expected a JSON object, got {type(record).__name__}", text.decode("utf-8", "replace")[:200])
    if assign_ids and not record.get("id"):
        record["id"] = stable_id(text)
    return Line(number, resolve_paths(record, base, path_fields))


def read_manifest(path: str, *, assign_ids: bool = True, path_fields: tuple[str, ...] = ()) -> Iterator[Line]:
    """Yield every line of a JSONL manifest; a bad line becomes a `Line` with a problem, never an exception."""
    base = manifest_dir(path)
    fh = _open_input(path)
    try:
        _refuse_binary(_peek(fh), path)
        for number, raw in enumerate(fh, start=1):
            text = raw.strip()
            if number == 1 and text.startswith(_BOM):  # editors on Windows save UTF-8 with a byte-order mark
                text = text[len(_BOM):].strip()
            if not text:
                continue
            try:
                line = _parse_line(number, text, base, assign_ids, path_fields)
            except Exception as exc:  # noqa: BLE001 - e.g. a NUL byte in a path: this line's error, not the run's
                line = Line(number, None, f"unusable record: {exc}", text.decode("utf-8", "replace")[:200])
            yield line
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()


def read_records(path: str) -> list[Record]:
    """All good records of a manifest (for stages that need the whole set, e.g. `debias`)."""
    return [line.record for line in read_manifest(path) if line.record is not None]


def repair_torn_tail(path: Path) -> bool:
    """Cut a last line that a killed writer left without its newline; True if something was cut."""
    if not path.is_file() or path.stat().st_size == 0:
        return False
    with path.open("rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return False
        fh.seek(0)
        keep = fh.read().rfind(b"\n") + 1
        fh.truncate(keep)
        return True


def existing_ids(path: Path) -> set[str]:
    ids: set[str] = set()
    if not path.is_file():
        return ids
    with path.open("rb") as fh:
        for raw in fh:
            try:
                rec = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if isinstance(rec, dict) and rec.get("id") is not None:
                ids.add(str(rec["id"]))
    return ids


class UnwritableRecord(ValueError):
    """A record that cannot be written as one JSON line (nested too deep, a value JSON has no form for)."""


def encode_line(record: Record) -> bytes:
    """One manifest line; `UnwritableRecord` when the record cannot be serialised."""
    try:
        return orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"
    except Exception as exc:  # noqa: BLE001 - orjson raises TypeError subclasses, deep recursion among them
        raise UnwritableRecord(f"cannot be written as JSON ({exc})") from None


def slim_error(record: Record, problem: str) -> Record:
    """An error record that can always be written: the id (if a plain value), the error, no body."""
    rid = record.get("id")
    error = record.get("error") if isinstance(record.get("error"), dict) else {}
    out: Record = {"id": rid} if isinstance(rid, str | int | float) and not isinstance(rid, bool) else {}
    message = str(error.get("message", ""))[:2000]
    out["error"] = {"stage": str(error.get("stage", "")), "kind": str(error.get("kind", "unwritable_record")),
                    "message": f"{message} (record body left out: {problem})" if message else f"record {problem}"}
    return out


class ManifestWriter:
    """Appends records one line at a time (flushed), skipping ids already written.

    With `resume`, the existing file is kept, its torn last line repaired and its ids remembered,
    so a re-run never writes a record twice.
    """

    def __init__(
        self,
        path: str,
        *,
        resume: bool = False,
        lazy: bool = False,
        dedupe: bool = True,
        tee: list[Record] | None = None,
        path_fields: tuple[str, ...] = (),
    ) -> None:
        self.path = path
        self.path_fields = path_fields
        self.dedupe = dedupe
        self.tee = tee  # also keeps what it writes (absolute paths), for exports after the run
        self.base = manifest_dir(path)
        self.seen: set[str] = set()
        self._fh: IO[bytes] | None = None
        if path == STDIO:
            self._fh = sys.stdout.buffer
            return
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if resume:
            repair_torn_tail(target)
            self.seen = existing_ids(target)
            self._mode = "ab"
        else:
            self._mode = "wb"
            if lazy:
                target.unlink(missing_ok=True)
        if not lazy:
            self._open()

    def _open(self) -> IO[bytes]:
        if self._fh is None:
            self._fh = open(self.path, self._mode)  # noqa: SIM115 - closed in close()
        return self._fh

    def write(self, record: Record) -> bool:
        """Write one record; False when its id was already in the manifest."""
        rid = record.get("id")
        if rid is not None and self.dedupe and str(rid) in self.seen:
            return False
        data = encode_line(relativize_paths(record, self.base, self.path_fields))
        if rid is not None and self.dedupe:
            self.seen.add(str(rid))
        fh = self._open()
        fh.write(data)
        if self.tee is not None:
            self.tee.append(record)
        fh.flush()
        return True

    def close(self) -> None:
        if self._fh is not None and self._fh is not sys.stdout.buffer:
            self._fh.close()
        elif self._fh is sys.stdout.buffer:
            self._fh.flush()
        self._fh = None

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ErrorManifest:
    """The errors manifest of a run, created on the first failure.

    When it cannot be written (a read-only folder, a full disk), the error records go to stderr as
    JSONL instead and the run goes on: losing good records over the error log would be worse.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._writer: ManifestWriter | None = None
        try:
            self._writer = ManifestWriter(path, lazy=True, dedupe=False)
        except OSError as exc:
            self._give_up(exc)

    def write(self, record: Record) -> None:
        try:
            encode_line(record)
        except UnwritableRecord as exc:
            record = slim_error(record, str(exc))
        if self._writer is not None:
            try:
                self._writer.write(record)
                return
            except OSError as exc:
                self._give_up(exc)
        sys.stderr.buffer.write(encode_line(record))
        sys.stderr.flush()

    def _give_up(self, exc: OSError) -> None:
        if self._writer is not None:
            self._writer.close()
        self._writer = None
        print(f"hilite: cannot write the errors manifest {self.path} ({exc.strerror or exc}); error records follow on stderr",
              file=sys.stderr)

    def where(self) -> str:
        """Where the error records went, for the summary line."""
        return self.path if self._writer is not None else "stderr"

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def __enter__(self) -> ErrorManifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def ledger_path(output: str) -> Path | None:
    """Where the resume ledger of `output` lives (`<output>.done`); stdout has none."""
    return None if output == STDIO else Path(f"{output}.done")


class DoneLedger:
    """Keys of inputs already processed (kept, dropped or turned into new records), one per line.

    It lives beside the output manifest (`<output>.done`), like datatrove's completion markers, so a
    resumed run skips inputs whose outputs carry new ids (an edit's candidates) or no output at all
    (a filtered record).
    """

    def __init__(self, output: str, *, resume: bool) -> None:
        self.path = ledger_path(output)
        self.keys: set[str] = set()
        if self.path is None:
            return
        if resume:
            repair_torn_tail(self.path)
            if self.path.is_file():
                self.keys = {k for k in self.path.read_text().splitlines() if k}
        else:
            self.path.unlink(missing_ok=True)
        self._fh = self.path.open("a")

    def __contains__(self, key: str) -> bool:
        return key in self.keys

    def mark(self, keys: list[str]) -> None:
        if self.path is None:
            return
        new = [k for k in keys if k not in self.keys]
        self.keys.update(new)
        if new:
            self._fh.write("".join(f"{k}\n" for k in new))
            self._fh.flush()

    def close(self) -> None:
        if self.path is not None:
            self._fh.close()


def default_errors_path(output: str, stage: str) -> str:
    """`<output>.errors.jsonl`; for stdout, `hilite-<stage>.errors.jsonl` in the current directory."""
    return f"hilite-{stage}.errors.jsonl" if output == STDIO else f"{output}.errors.jsonl"
