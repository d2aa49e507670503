"""Where images live: a local path or an fsspec URL (`s3://…`, `gs://…`, `file:///…`, `memory://…`).

A cluster's workers write images that the driver and later stages must read. A shared mount does that
with plain paths; a URL does it through fsspec, with the backend's own credentials (s3fs, gcsfs…).
URLs stay URLs in manifests, so every stage that reads an image reads it through here.
"""

from __future__ import annotations

import os
import posixpath
import uuid
from pathlib import Path
from typing import IO

import fsspec
from fsspec.core import url_to_fs

Location = Path | str  # a local path, or an fsspec URL kept as the string the user gave


def is_url(location: str | os.PathLike[str]) -> bool:
    """True for `proto://…` (the same test manifest.py uses to leave a path as it is)."""
    return "://" in str(location)


def out_location(value: str) -> Location:
    """An `--out` value: a URL whose protocol fsspec knows (kept as given), else a local Path.

    Raises ValueError naming the protocol when fsspec has no backend for it (e.g. s3fs missing)."""
    if not is_url(value):
        return Path(value)
    protocol = value.split("://", 1)[0]
    try:
        fsspec.get_filesystem_class(protocol)
    except (ValueError, ImportError) as exc:
        raise ValueError(f"--out {value}: no fsspec filesystem for {protocol}:// ({exc})") from None
    return value.rstrip("/")


def join_url(root: str, relative: str) -> str:
    """`root/relative` for a URL root, refusing absolute paths and any `..` that would leave `root`."""
    rel = posixpath.normpath(relative.replace("\\", "/"))
    if relative.startswith(("/", "\\")) or rel == ".." or rel.startswith("../") or is_url(relative):
        raise ValueError(f"refusing output path {relative!r}: outputs stay under {root}")
    return f"{root.rstrip('/')}/{rel}"


def size(url: str) -> int:
    """The object's size in bytes; FileNotFoundError when it is not there."""
    fs, path = url_to_fs(url)
    if not fs.isfile(path):
        raise FileNotFoundError(url)
    return int(fs.size(path))


def exists(location: Location) -> bool:
    if not is_url(location):
        return Path(location).exists()
    fs, path = url_to_fs(str(location))
    return bool(fs.exists(path))


def is_file(location: str | os.PathLike[str]) -> bool:
    if not is_url(location):
        return Path(location).is_file()
    fs, path = url_to_fs(str(location))
    return bool(fs.isfile(path))


def open_read(location: str | os.PathLike[str]) -> IO[bytes]:
    """A binary file object for a local path or a URL."""
    if not is_url(location):
        return open(location, "rb")
    fs, path = url_to_fs(str(location))
    return fs.open(path, "rb")


def read_bytes(location: str | os.PathLike[str]) -> bytes:
    with open_read(location) as fh:
        return fh.read()


def remove(location: Location) -> None:
    """Delete a file if it is there (a staged image that was judged)."""
    if not is_url(location):
        Path(location).unlink(missing_ok=True)
        return
    fs, path = url_to_fs(str(location))
    if fs.exists(path):
        fs.rm(path)


def makedirs(location: Location) -> None:
    """Create a local folder, or the URL's folder where the filesystem has folders (object stores need none)."""
    if not is_url(location):
        Path(location).mkdir(parents=True, exist_ok=True)
        return
    fs, path = url_to_fs(str(location))
    fs.makedirs(path, exist_ok=True)


def write_url_atomic(url: str, data: bytes) -> None:
    """Write to a temp name beside the target, then `fs.mv` it there: a reader never sees a half-written
    object on filesystems with an atomic rename (local, memory), and an object store's PUT is whole anyway."""
    fs, path = url_to_fs(url)
    parent, name = posixpath.split(path)
    fs.makedirs(parent, exist_ok=True)
    tmp = posixpath.join(parent, f".{name}.{uuid.uuid4().hex}.tmp")
    try:
        fs.pipe_file(tmp, data)
        fs.mv(tmp, path)
    except BaseException:
        if fs.exists(tmp):
            fs.rm(tmp)
        raise
