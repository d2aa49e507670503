"""What a command writes, checked before it writes: aliasing, one run per output, leftovers.

Every command names the files it reads and the files it will write before it opens any of them, and
this module is the one place that checks them:
- `check_aliases` refuses a write that is a file it reads, or another of its writes. Existing
  files compare by (device, inode), so hard links, symlinks and `./x` vs `x` are caught; files not
  yet there compare by resolved path. Stdin and stdout count by what they are (`fstat`), so
  `< c.jsonl -o c.jsonl` is caught, and every file a write brings along (`<output>.lock`, `.done`,
  `.errors.jsonl`, `.state.jsonl`, `.batches.jsonl`, `.specs.jsonl`) is checked against the inputs too.
- `RunLock` takes an exclusive, non-blocking `flock` on `<output>.lock` beside the resolved file
  (so symlinks share one lock) and on the output itself (so hard links do), with the holder (pid,
  host, command line, start time) written inside, so a second run into the same file stops and names
  the first. A device or FIFO output is streamed, so it has no lock.
- `new_paths` / `remove_empty` let a command that stops early take back the empty files and folders
  it created, never earlier work; `remove_temp_files` takes back the temp files of a killed run.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import stat
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import orjson

from hilite_cli.manifest import STDIO, is_stream, write_target

Named = tuple[str, "str | Path | None"]  # (how the user gave it: an option or "the input manifest", path)

# Files a run writes beside an output, named after it (lock, ledger, errors, mining state, batch jobs).
DERIVED_SUFFIXES: tuple[tuple[str, str], ...] = (
    (".lock", "lock file"), (".done", "resume ledger"), (".errors.jsonl", "errors manifest"),
    (".state.jsonl", "state file"), (".batches.jsonl", "batch-job ledger"), (".specs.jsonl", "designed specs"),
)


class OutputClash(Exception):
    """Two options name the same file, and writing one would destroy the other."""


class OutputLocked(Exception):
    """Another run holds the output's lock."""


def _identity(path: str | Path) -> tuple[object, ...]:
    """(device, inode) for a file that exists, else its fully resolved path."""
    try:
        st = os.stat(path)
    except OSError:
        return ("path", os.path.realpath(path))
    return ("inode", st.st_dev, st.st_ino)


def _stdio_identity(stream: object) -> tuple[object, ...] | None:
    """(device, inode) of stdin/stdout when it is a regular file (`< c.jsonl`, `>> c.jsonl`), else None."""
    try:
        st = os.fstat(stream.fileno())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):  # a pipe-less test runner's stream has no descriptor
        return None
    return ("inode", st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def _keyed(items: Iterable[Named], stream: object, name: str) -> list[tuple[tuple[object, ...], str, str]]:
    out = []
    for label, path in items:
        if path is None:
            continue
        if str(path) == STDIO:
            key = _stdio_identity(stream)
            if key is not None:
                out.append((key, label, name))
            continue
        out.append((_identity(path), label, str(path)))
    return out


def derived(label: str, path: str | Path) -> list[tuple[str, str]]:
    """The files a write to `path` may bring along (its lock, ledger, errors…), labelled for messages."""
    if str(path) == STDIO or is_stream(path):
        return []
    base = write_target(path)
    return [(f"the {what} of {label}", f"{base}{suffix}") for suffix, what in DERIVED_SUFFIXES]


def check_aliases(reads: Iterable[Named], writes: Iterable[Named]) -> None:
    """Raise `OutputClash` naming both options when a write (or a file it brings along) is a read, or
    when a write is another write. A device or FIFO written in place clashes with nothing."""
    writes = list(writes)
    seen: dict[tuple[object, ...], tuple[str, str, bool]] = {}
    for key, label, path in _keyed(reads, sys.stdin, "stdin"):
        seen.setdefault(key, (label, path, False))
    for key, label, path in _keyed(writes, sys.stdout, "stdout"):
        if key in seen:
            other, other_path, written = seen[key]
            if written and is_stream(path):  # `-o /dev/null --errors /dev/null`: both stream in place
                continue
            what = "both would write it" if written else "writing it would erase the input"
            hint = f": give {label} another path" if label.startswith("-") else ""
            raise OutputClash(f"{label} {path} and {other} {other_path} are the same file ({what}){hint}")
        seen[key] = (label, path, True)
    reads_only = {k: v for k, v in seen.items() if not v[2]}
    for label, path in writes:
        if path is None:
            continue
        for what, sibling in derived(label, path):
            key = _identity(sibling)
            if key in reads_only:
                other, other_path, _ = reads_only[key]
                raise OutputClash(f"{sibling} ({what}) and {other} {other_path} are the same file (the run would "
                                  f"overwrite or remove it): give {label} another path")


def lock_path(output: str | Path) -> Path:
    """`<output>.lock` beside the file the output resolves to, so every symlink to it shares one lock."""
    return Path(f"{os.path.realpath(output)}.lock")


class RunLock:
    """An exclusive `flock` on `<output>.lock` and on the output file itself, held from `acquire()` to
    `release()`: the first stops a second run through the same name or a symlink, the second a run
    through a hard link.

    The lock file is removed on release; an acquirer that finds its file replaced meanwhile tries
    again, so two runs can never both hold a lock on one output.
    """

    def __init__(self, output: str | Path) -> None:
        self.output = str(output)
        self.path = lock_path(output)
        self._fd: int | None = None
        self._file_fd: int | None = None

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise OutputLocked(f"{self.output} is in use by another run ({holder}); "
                                   f"wait for it to finish or write elsewhere") from None
            if _same_file(fd, self.path):
                break
            os.close(fd)  # the holder removed it between our open and our lock: take the new one
        self._fd = fd
        self._lock_file()
        os.ftruncate(fd, 0)
        os.write(fd, orjson.dumps({
            "pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(["hilite", *sys.argv[1:]]),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }))
        return self

    def _lock_file(self) -> None:
        """Lock the output's inode too (when it is a regular file), so a hard link cannot share it."""
        try:
            fd = os.open(self.output, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            return  # not there yet: no other name can point at it
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            self.release()
            raise OutputLocked(f"{self.output} is in use by another run that writes the same file under another "
                               "name (a hard link); wait for it to finish or write elsewhere") from None
        self._file_fd = fd

    def release(self) -> None:
        if self._file_fd is not None:
            os.close(self._file_fd)
            self._file_fd = None
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    fst = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino)


def _read_holder(fd: int) -> str:
    try:
        info = orjson.loads(os.pread(fd, 4096, 0))
        return f"pid {info['pid']} on {info['host']}, started {info['started']}: {info['command']}"
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
        return "holder unknown"


class RunLocks:
    """The locks of all of a run's outputs (stdout, devices and FIFOs have none), taken in a fixed order.

    An `unwritable_ok` output (the errors manifest, which falls back to stderr) whose lock cannot even
    be created (a read-only folder) is written without one; a run holding it still stops this one."""

    def __init__(self, outputs: Iterable[str | Path | None], unwritable_ok: Iterable[str | Path | None] = ()) -> None:
        unique = {os.path.realpath(str(p)): p for p in outputs if p is not None and not is_stream(p)}
        self.optional = {os.path.realpath(str(p)) for p in unwritable_ok if p is not None}
        self.locks = [RunLock(unique[k]) for k in sorted(unique)]

    def acquire(self) -> RunLocks:
        try:
            for lock in self.locks:
                try:
                    lock.acquire()
                except OutputLocked:
                    raise
                except OSError:
                    if os.path.realpath(lock.output) not in self.optional:
                        raise
        except BaseException:
            self.release()
            raise
        return self

    def release(self) -> None:
        for lock in reversed(self.locks):
            lock.release()

    def __enter__(self) -> RunLocks:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def new_paths(paths: Iterable[str | Path | None]) -> list[Path]:
    """The paths that do not exist yet: what this run will have created, if it stops early."""
    return [Path(p) for p in paths if p is not None and str(p) != STDIO and not os.path.lexists(p)]


def remove_empty(paths: Iterable[Path]) -> None:
    """Remove empty files and folder trees holding no file, among `paths` (what this run created)."""
    for path in paths:
        try:
            if path.is_dir() and not path.is_symlink():
                if not any(p.is_file() or p.is_symlink() for p in path.rglob("*")):
                    shutil.rmtree(path)
            elif path.is_file() and path.stat().st_size == 0:
                path.unlink()
        except OSError:
            continue


def temp_prefix(target: Path) -> str:
    """The temp-file prefix of an atomic write to `target`: `.<name>.<pid>-` (mkstemp adds the rest), so
    the next run over the same output can tell a dead writer's leftovers from a live one's file."""
    return f".{target.name}.{os.getpid()}-"


def _dead_writer(tmp: Path) -> bool:
    """True when `tmp` is named by `temp_prefix` and no process with its pid runs on this machine."""
    pid, dash, _ = tmp.name[:-len(".tmp")].rsplit(".", 1)[-1].partition("-")
    if not (pid.isdigit() and dash):
        return False  # not one of ours: leave it
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, under another user
        pass
    return False


def remove_temp_files(outputs: Iterable[str | Path | None], folders: Iterable[str | Path | None] = ()) -> int:
    """Remove the temp files (`.<name>.<pid>-*.tmp`) a killed run left beside each output and anywhere
    under `folders`, when the process that made them is gone; how many went."""
    found: list[Path] = []
    for output in outputs:
        if output is None or is_stream(output):
            continue
        target = Path(write_target(output))
        if target.parent.is_dir():
            found += target.parent.glob(f".{target.name}.*.tmp")
    for folder in folders:
        if folder is not None and Path(folder).is_dir():
            found += Path(folder).rglob(".*.tmp")
    removed = 0
    for tmp in found:
        if not _dead_writer(tmp):
            continue
        if tmp.is_dir() and not tmp.is_symlink():  # a killed export's staging folder
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        removed += 1
    return removed
