"""Streaming JSONL manifests: read, write, resume, error records.

Paths in records are resolved against the manifest's own directory on read (the current directory
for stdin) and written relative to the output manifest's directory (the current directory for
stdout), so `a | b` resolves the same paths that `a -o x.jsonl; b x.jsonl` does.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

import orjson

from hilite_cli.core import PATH_FIELDS, Record, stable_id

STDIO = "-"


def is_stream(path: str | os.PathLike[str]) -> bool:
    """True for stdout/stdin (`-`) and for a path that is, or links to, something other than a regular
    file or folder (a device, a FIFO, /dev/stdout): such an output is written in place, never replaced,
    and keeps no ledger, lock or sibling files."""
    if str(path) == STDIO:
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def write_target(path: str | os.PathLike[str]) -> str:
    """The file a write to `path` lands on: a symlink is written through to its target (which is then
    the file checked for aliasing and locked), so the link is never replaced by a regular file. A link
    to a device or FIFO is opened as it is (`/proc/self/fd/1` has no real path to resolve to)."""
    return os.path.realpath(path) if os.path.islink(path) and not is_stream(path) else str(path)


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
    if "\x00" in path:  # as Path.resolve says it: this record's error, never a silently odd path
        raise ValueError("embedded null byte")
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


def _key_count(value: object) -> int:
    """How many keys the parsed objects hold, nested ones included (no recursion: lines may nest deep)."""
    count, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            count += len(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


class _RepeatedKey(ValueError):
    pass


def _unique_pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _RepeatedKey(key)
        seen.add(key)
    return dict(pairs)


def _repeated_key(text: bytes, record: Record) -> str | None:
    """A key given twice in one object of the line (orjson keeps the last silently), or None.

    Every key is followed by one `:`; when the line holds no more colons than the parsed keys, no key
    can have been dropped, so only lines with colons inside strings are parsed a second time, strictly."""
    if text.count(b":") <= _key_count(record):
        return None
    try:
        json.loads(text, object_pairs_hook=_unique_pairs)
    except _RepeatedKey as exc:
        return str(exc)
    except (ValueError, RecursionError):
        return None
    return None


def _parse_line(number: int, text: bytes, base: Path, assign_ids: bool, path_fields: tuple[str, ...]) -> Line:
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return Line(number, None, f"malformed JSON: {exc}", text.decode("utf-8", "replace")[:200])
    if not isinstance(record, dict):
        return Line(number, None, f"expected a JSON object, got {type(record).__name__}", text.decode("utf-8", "replace")[:200])
    repeated = _repeated_key(text, record)
    if repeated is not None:
        return Line(number, None, f"the key `{repeated}` is given more than once, so which value is meant is unknown",
                    text.decode("utf-8", "replace")[:200])
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


def _line_id(raw: bytes) -> str | None:
    try:
        rec = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return str(rec["id"]) if isinstance(rec, dict) and rec.get("id") is not None else None


def id_hash(rid: str | None) -> int:
    """One line's share of an output's fingerprint: XOR-ed over lines, so it is kept while streaming."""
    return int.from_bytes(hashlib.blake2b((rid or "").encode(), digest_size=8).digest(), "big")


@dataclass
class OutputScan:
    """What a resumed run needs of its output, in one streaming pass: the ids, the line count and the
    fingerprint of every line (`digest`) and of the first `upto` lines (`digest_upto`)."""

    ids: set[str]
    lines: int = 0
    digest: int = 0
    digest_upto: int = 0


def scan_output(path: Path, upto: int = 0) -> OutputScan:
    scan = OutputScan(set())
    if not path.is_file():
        return scan
    with path.open("rb") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            rid = _line_id(raw)
            if rid is not None:
                scan.ids.add(rid)
            scan.lines += 1
            scan.digest ^= id_hash(rid)
            if scan.lines == upto:
                scan.digest_upto = scan.digest
    return scan


def existing_ids(path: Path) -> set[str]:
    return scan_output(path).ids


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
        self.lines = 0  # lines in the file and their fingerprint, for the resume ledger's checkpoints
        self.digest = 0
        self._fh: IO[bytes] | None = None
        if path == STDIO:
            self._fh = sys.stdout.buffer
            return
        self.path = path = write_target(path)
        if is_stream(path):  # a device or FIFO: streamed in place, never unlinked, repaired or read back
            self._mode = "ab" if resume else "wb"
            if not lazy:
                self._open()
            return
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if resume:
            repair_torn_tail(target)
            scan = scan_output(target)
            self.seen, self.lines, self.digest = scan.ids, scan.lines, scan.digest
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
        self.lines += 1
        self.digest ^= id_hash(None if rid is None else str(rid))
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
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                writer.close()
            except OSError:  # the same full disk fails the close's flush too: the records go to stderr anyway
                writer._fh = None
        print(f"hilite: cannot write the errors manifest {self.path} ({exc.strerror or exc}); error records follow on stderr",
              file=sys.stderr)

    def where(self) -> str:
        """Where the error records went, for the summary line."""
        return self.path if self._writer is not None else "stderr"

    def close(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            except OSError as exc:
                self._give_up(exc)

    def __enter__(self) -> ErrorManifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def ledger_path(output: str) -> Path | None:
    """Where the resume ledger of `output` lives (`<output>.done`, beside a symlink's target); stdout,
    a device or a FIFO has none."""
    return None if is_stream(output) else Path(f"{write_target(output)}.done")


# A ledger line that is not a key: the output's line count and fingerprint when the keys above it were
# marked (NUL never starts an id a manifest line can carry into a key).
_CHECKPOINT = "\x00output "


def read_ledger(path: Path) -> tuple[set[str], tuple[int, int] | None]:
    """The keys of a resume ledger and its last output checkpoint (lines, fingerprint), if any."""
    keys: set[str] = set()
    checkpoint = None
    with path.open() as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line.startswith(_CHECKPOINT):
                lines, digest = line[len(_CHECKPOINT):].split()
                checkpoint = (int(lines), int(digest, 16))
            elif line:
                keys.add(line)
    return keys, checkpoint


def ledger_keys(path: Path | None) -> list[str]:
    """The input keys a resume ledger marks as done (none when it is absent)."""
    return sorted(read_ledger(path)[0]) if path is not None and path.is_file() else []


class LedgerMismatch(ManifestError):
    """The output does not hold what its resume ledger says was written: resuming would skip records
    that are not there."""


def check_ledger(output: str) -> None:
    """Raise `LedgerMismatch` when `output` is missing, shorter than, or holds other records than its
    ledger's last checkpoint; streams the output once, keeping no more than a fingerprint."""
    path = ledger_path(output)
    if path is None or not path.is_file():
        return
    repair_torn_tail(path)
    keys, checkpoint = read_ledger(path)
    target = Path(write_target(output))
    if keys and not target.is_file():
        raise LedgerMismatch(f"{output} is missing, but its resume ledger {path} marks {len(keys)} inputs done")
    if checkpoint is None:
        return
    lines, digest = checkpoint
    repair_torn_tail(target)
    scan = scan_output(target, upto=lines)
    if scan.lines < lines:
        raise LedgerMismatch(f"{output} holds {scan.lines} records, fewer than the {lines} its resume ledger {path} "
                             "recorded")
    if lines and scan.digest_upto != digest:
        raise LedgerMismatch(f"{output} holds other records than its resume ledger {path} recorded "
                             f"(its first {lines} lines changed)")


class DoneLedger:
    """Keys of inputs already processed (kept, dropped or turned into new records), one per line.

    It lives beside the output manifest (`<output>.done`), like datatrove's completion markers, so a
    resumed run skips inputs whose outputs carry new ids (an edit's candidates) or no output at all
    (a filtered record). After each batch it also records the output's line count and fingerprint
    (given `writer`), so `check_ledger` can tell an output that lost or changed records.
    """

    def __init__(self, output: str, *, resume: bool, writer: ManifestWriter | None = None) -> None:
        self.path = ledger_path(output)
        self.writer = writer
        self.keys: set[str] = set()
        if self.path is None:
            return
        if resume:
            repair_torn_tail(self.path)
            if self.path.is_file():
                self.keys = read_ledger(self.path)[0]
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
            text = "".join(f"{k}\n" for k in new)
            if self.writer is not None:
                text += f"{_CHECKPOINT}{self.writer.lines} {self.writer.digest:x}\n"
            self._fh.write(text)
            self._fh.flush()

    def close(self) -> None:
        if self.path is not None:
            self._fh.close()


def default_errors_path(output: str, stage: str) -> str:
    """`<output>.errors.jsonl`; for stdout (or a device, a FIFO), `hilite-<stage>.errors.jsonl` in the
    current directory."""
    return f"hilite-{stage}.errors.jsonl" if is_stream(output) else f"{output}.errors.jsonl"
