"""Which files the studio serves: store images by id, and only the files the loaded manifests name.

A request never names a path on disk for store images (a 16-hex id). For a manifest, the request
names a path relative to the manifest's folder; it is refused when absolute, when it leaves the
folder, when the manifest does not name it, or when its real path (symlinks followed) lies outside
the manifest's folder.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath


class Refused(Exception):
    """A file request outside what the studio serves; the message says why (never the file's content)."""


class NamedFiles:
    """The files one manifest names, by their path relative to its folder."""

    def __init__(self, root: Path) -> None:
        self.base = root.absolute()
        self.root = root.resolve()
        self.named: set[str] = set()

    def add(self, path: str) -> str | None:
        """Remember a path a record names; its URL form, or None when it can never be served."""
        real = Path(path).resolve()
        if not real.is_relative_to(self.root) or not real.is_file():
            return None
        rel = Path(os.path.relpath(Path(path).absolute(), self.base)).as_posix()
        if rel.startswith("../"):
            return None
        self.named.add(rel)
        return rel

    def resolve(self, requested: str) -> Path:
        if not requested or requested.startswith(("/", "\\")) or (len(requested) > 1 and requested[1] == ":"):
            raise Refused("absolute paths are refused")
        parts = PurePosixPath(requested.replace("\\", "/")).parts
        if ".." in parts:
            raise Refused("paths that climb out ('..') are refused")
        rel = PurePosixPath(*parts).as_posix()
        if rel not in self.named:
            raise Refused("the loaded manifests do not name this file")
        real = (self.base / rel).resolve()
        if not real.is_relative_to(self.root):
            raise Refused("this file links out of the manifest's folder")
        if not real.is_file():
            raise Refused("no such file")
        return real
