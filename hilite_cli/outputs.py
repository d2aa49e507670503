"""What a command writes, checked before it writes: aliasing, one run per output, leftovers.

Every command names the files it reads and the files it will write before it opens any of them:
- `check_aliases` refuses a write that is a file it reads, or another of its writes. Existing
  files compare by (device, inode), so hard links, symlinks and `./x` vs `x` are caught; files not
  yet there compare by resolved path.
- `RunLock` takes an exclusive, non-blocking `flock` on `<output>.lock` for the whole run, with the
  holder (pid, host, command line, start time) written inside, so a second run into the same output
  stops and names the first.
- `new_paths` / `remove_empty` let a command that stops early take back the empty files and folders
  it created, never earlier work.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import orjson

from hilite_cli.manifest import STDIO

Named = tuple[str, "str | Path | None"]  # (how the user gave it: an option or "the input manifest", path)


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


def _named(items: Iterable[Named]) -> list[tuple[str, str]]:
    return [(label, str(path)) for label, path in items if path is not None and str(path) != STDIO]


def check_aliases(reads: Iterable[Named], writes: Iterable[Named]) -> None:
    """Raise `OutputClash` naming both options when a write is a read or another write."""
    seen: dict[tuple[object, ...], tuple[str, str, bool]] = {}
    for label, path in _named(reads):
        seen.setdefault(_identity(path), (label, path, False))
    for label, path in _named(writes):
        key = _identity(path)
        if key in seen:
            other, other_path, written = seen[key]
            what = "both would write it" if written else "writing it would erase the input"
            hint = f": give {label} another path" if label.startswith("-") else ""
            raise OutputClash(f"{label} {path} and {other} {other_path} are the same file ({what}){hint}")
        seen[key] = (label, path, True)


def lock_path(output: str | Path) -> Path:
    return Path(f"{output}.lock")


class RunLock:
    """An exclusive `flock` on `<output>.lock`, held from `acquire()` to `release()`.

    The lock file is removed on release; an acquirer that finds its file replaced meanwhile tries
    again, so two runs can never both hold a lock on one output.
    """

    def __init__(self, output: str | Path) -> None:
        self.output = str(output)
        self.path = lock_path(output)
        self._fd: int | None = None

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
        os.ftruncate(fd, 0)
        os.write(fd, orjson.dumps({
            "pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(["hilite", *sys.argv[1:]]),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }))
        self._fd = fd
        return self

    def release(self) -> None:
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
    """The locks of all of a run's outputs (stdout has none), taken in a fixed order."""

    def __init__(self, outputs: Iterable[str | Path | None]) -> None:
        unique = {os.path.realpath(str(p)): p for p in outputs if p is not None and str(p) != STDIO}
        self.locks = [RunLock(unique[k]) for k in sorted(unique)]

    def acquire(self) -> RunLocks:
        try:
            for lock in self.locks:
                lock.acquire()
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
