"""A benchmark shipped as an archive in a Hugging Face dataset repo (ImgEdit-Bench's `Benchmark.tar`
in `sysuyy/ImgEdit`): fetched through `huggingface_hub`, unpacked once, searched for its parts.

The archive comes through the standard HF cache (`HF_HOME`, `HF_HUB_OFFLINE` honoured), and is
unpacked under `$HILITE_CACHE_DIR/benchmarks/<repo>/<key>`, keyed by the cached blob's name (its
content hash) so a new revision unpacks beside the old one. Unpacking goes into a `.partial` folder
with tarfile's `data` filter (no absolute paths, links or members outside the folder), writes a
marker and is renamed into place: a killed unpack is redone, never half-trusted; a file lock keeps
two runs from unpacking into the same folder at once. The archive's
layout cannot be known in advance (it is not documented), so its parts are found by search.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
from collections.abc import Sequence
from pathlib import Path

from hilite_cli.config import cache_dir
from hilite_cli.stages.eval.errors import BenchmarkError

MARKER = ".hilite-unpacked"


def fetch(repo_id: str, filename: str) -> Path:
    """The archive's path in the HF cache, downloading it unless offline; failures are one line."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise BenchmarkError("hub benchmarks load through huggingface_hub: pip install huggingface_hub") from None
    try:
        return Path(hf_hub_download(repo_id, filename, repo_type="dataset"))
    except ValueError as exc:  # HFValidationError: neither an existing path nor a well-formed hub id
        raise BenchmarkError(f"{repo_id}: no such folder, and not a hub dataset id ({exc})") from None
    except OSError as exc:  # not cached offline, unknown repo or file, network
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        offline = " (HF_HUB_OFFLINE is set and it is not in the HF cache)" if _offline() else ""
        raise BenchmarkError(f"{repo_id}: cannot get {filename} from the hub dataset repo{offline}: "
                             f"{type(exc).__name__}: {detail}") from None


def _offline() -> bool:
    from huggingface_hub import constants

    return constants.is_offline_mode()


def _key(archive: Path) -> str:
    """The cached blob's name (the HF cache names blobs by content hash), else the file's sha256."""
    real = archive.resolve()
    if real.parent.name == "blobs":
        return real.name
    with real.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def unpack(archive: Path, repo_id: str) -> Path:
    """The archive unpacked under the hilite cache (once per content); a half-done unpack is redone.
    Two runs unpacking the same archive at once take turns on a file lock (the second finds it done)."""
    from filelock import FileLock

    dest = cache_dir() / "benchmarks" / repo_id.replace("/", "--") / _key(archive)
    if (dest / MARKER).is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(dest.with_name(f"{dest.name}.lock")):
        return _unpack_locked(archive, dest)


def _unpack_locked(archive: Path, dest: Path) -> Path:
    if (dest / MARKER).is_file():  # another run finished it while this one waited for the lock
        return dest
    if not hasattr(tarfile, "data_filter"):  # the filter came in 3.11.4; without it unpacking is unsafe
        raise BenchmarkError(f"{archive}: unpacking it safely needs Python 3.11.4 or later (tarfile's data filter)")
    partial = dest.with_name(f"{dest.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(partial, filter="data")
    except (tarfile.TarError, OSError) as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise BenchmarkError(f"{archive}: cannot unpack it safely ({type(exc).__name__}: {exc})") from None
    (partial / MARKER).write_text(f"{archive.name}\n")
    shutil.rmtree(dest, ignore_errors=True)  # an unpack from before markers, or a crashed one
    partial.rename(dest)
    return dest


def find_file(root: Path, name: str) -> Path | None:
    """The shallowest `name` under root (ties: the first in path order)."""
    found = sorted(root.rglob(name), key=lambda p: (len(p.parts), str(p)))
    return found[0] if found else None


def image_root(root: Path, ids: Sequence[str]) -> Path:
    """The folder under root below which the given relative image paths (`animal/000342021.jpg`) exist."""
    if not ids:
        raise BenchmarkError(f"{root}: no entries to find images for")
    first = Path(ids[0])
    for hit in sorted(root.rglob(first.name), key=lambda p: (len(p.parts), str(p))):
        if hit.parts[-len(first.parts):] != first.parts:
            continue
        candidate = Path(*hit.parts[: len(hit.parts) - len(first.parts)])
        if all((candidate / i).is_file() for i in ids):
            return candidate
    raise BenchmarkError(f"{root}: no folder in the unpacked archive holds the benchmark's images "
                         f"(looked for {', '.join(ids)})")
