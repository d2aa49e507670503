"""Benchmark items and where their edited images live.

GEdit-Bench (`stepfun-ai/GEdit-Bench`): a table with `key, task_type, instruction,
instruction_language, input_image, Intersection_exist` (capital I, as in the
hub data and GEdit-Bench's own scripts). Loaded by hub id through `datasets`, or from a local
folder: a `save_to_disk` folder, or one holding the hub repo's parquet (or arrow) files (`huggingface-cli download
stepfun-ai/GEdit-Bench --repo-type dataset --local-dir DIR`). Edited images follow GEdit's own
layout, `EDITED/<task_type>/<language>/<key>.png` (a flat `EDITED/<key>.png` is accepted too).

ImgEdit-Bench (basic single-turn suite): ImgEdit's `basic_edit.json` (`{key: {id, prompt,
edit_type}}`) and the original images. From a folder: `DIR/basic_edit.json` (or `metadata`) and the
images under it (`DIR/<id>`, or `DIR/images/<id>`). By hub id (`sysuyy/ImgEdit`; anything that is
not an existing path): the repo ships the images as an archive, not a `datasets` table, so
`hub_archive` fetches and unpacks `Benchmark.tar` (configs/eval.toml [imgedit]) and finds
basic_edit.json and the image root in it by search; when the archive has no basic_edit.json, the
user passes the one from ImgEdit's GitHub repo (Benchmark/Basic/) as `metadata`. Edited images:
`EDITED/<key>.png`, ImgEdit's layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from hilite_cli.stages.eval.errors import BenchmarkError

BENCHMARKS = ("gedit", "imgedit")
EDITED_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
INTERSECTION = "Intersection_exist"  # GEdit-Bench's column name, capital I (test_gedit_score.py reads it so)


@dataclass(frozen=True)
class Item:
    key: str
    category: str
    instruction: str
    language: str | None
    source: Path
    extra: dict[str, Any] = field(default_factory=dict)


def _gedit_rows(where: str) -> Any:
    try:
        import datasets
    except ImportError:
        raise BenchmarkError("GEdit-Bench loads through `datasets`: pip install 'hilite_cli[eval]' (or datasets)") from None

    path = Path(where)
    if path.is_dir():
        return _gedit_folder(datasets, path)
    if path.exists():
        raise BenchmarkError(f"{where}: expected a folder or a hub id")
    try:
        return datasets.load_dataset(where, split="train")
    except Exception as exc:  # datasets raises many kinds for an unreachable or unknown hub id
        raise BenchmarkError(f"{where}: cannot load it through datasets ({type(exc).__name__}: {exc})") from None


def _gedit_folder(datasets: Any, path: Path) -> Any:
    """A local GEdit-Bench: a `save_to_disk` folder, or the hub repo's parquet or arrow files."""
    if (path / "state.json").is_file() or (path / "dataset_dict.json").is_file():
        loaded = datasets.load_from_disk(str(path))
        return loaded["train"] if isinstance(loaded, datasets.DatasetDict) else loaded
    for kind in ("parquet", "arrow"):
        files = sorted(str(p) for p in path.rglob(f"*.{kind}"))
        if files:
            return datasets.load_dataset(kind, data_files=files, split="train")
    raise BenchmarkError(f"{path}: no parquet or arrow files and no save_to_disk dataset (expected the GEdit-Bench "
                         "hub repo's files)")


def gedit_items(where: str, cache: Path, language: str = "en", subset: str = "fullset") -> Iterator[Item]:
    """GEdit-Bench items in one language (`en`, `cn` or `all`) of GEdit's `fullset` or `intersection`
    subset (items with `Intersection_exist`); source images written once under `cache`."""
    rows = _gedit_rows(where)
    missing = {"key", "task_type", "instruction", "input_image"} - set(rows.column_names)
    if missing:
        raise BenchmarkError(f"{where}: not GEdit-Bench, it has no column {', '.join(sorted(missing))}")
    cache.mkdir(parents=True, exist_ok=True)
    for row in rows:
        lang = row.get("instruction_language")
        if language != "all" and lang is not None and lang != language:
            continue
        if subset == "intersection" and not row.get(INTERSECTION):
            continue
        source = cache / f"{row['key']}.png"
        if not source.is_file():
            tmp = source.with_suffix(".tmp.png")
            row["input_image"].convert("RGB").save(tmp)
            tmp.replace(source)
        yield Item(str(row["key"]), str(row["task_type"]), str(row["instruction"]), lang, source,
                   {INTERSECTION: row.get(INTERSECTION)})


def _imgedit_entries(meta: Path) -> dict[str, dict[str, Any]]:
    if not meta.is_file():
        raise BenchmarkError(f"{meta}: no such file (ImgEdit-Bench's Benchmark/Basic/basic_edit.json)")
    try:
        entries = orjson.loads(meta.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise BenchmarkError(f"{meta}: not valid JSON ({exc})") from None
    if not isinstance(entries, dict):
        raise BenchmarkError(f"{meta}: expected an object of key -> {{id, prompt, edit_type}}")
    for key, entry in entries.items():
        if not isinstance(entry, dict) or not {"id", "prompt", "edit_type"} <= entry.keys():
            raise BenchmarkError(f"{meta}: entry {key!r} needs id, prompt and edit_type")
    return entries


def _imgedit_hub(repo_id: str, metadata: Path | None) -> tuple[dict[str, dict[str, Any]], Path]:
    """(basic_edit.json's entries, image root) for ImgEdit-Bench by hub id; the entries are read once,
    for the image-root search and for the items."""
    from hilite_cli.config import load_config
    from hilite_cli.stages.eval import hub_archive

    filename = str(load_config("eval")["imgedit"]["archive"])
    root = hub_archive.unpack(hub_archive.fetch(repo_id, filename), repo_id)
    meta = metadata or hub_archive.find_file(root, "basic_edit.json")
    if meta is None:
        raise BenchmarkError(f"{repo_id}: {filename} has no basic_edit.json; pass ImgEdit's "
                             "Benchmark/Basic/basic_edit.json (from its GitHub repo) with --metadata FILE")
    entries = _imgedit_entries(meta)
    sample = [str(e["id"]) for e in list(entries.values())[:3]]
    return entries, hub_archive.image_root(root, sample)


def imgedit_items(where: str, metadata: Path | None = None) -> Iterator[Item]:
    """ImgEdit-Bench items from a local folder or a hub id (see the module docstring)."""
    root = Path(where)
    if root.is_dir():
        meta = metadata or root / "basic_edit.json"
        if not meta.is_file():
            raise BenchmarkError(f"{where}: no basic_edit.json (ImgEdit-Bench's Benchmark/Basic metadata); "
                                 "pass it with --metadata FILE")
        entries, images = _imgedit_entries(meta), root
    elif root.exists():
        raise BenchmarkError(f"{where}: expected a folder or a hub id")
    else:
        entries, images = _imgedit_hub(where, metadata)
    for key, entry in entries.items():
        source = images / entry["id"]
        if not source.is_file() and (images / "images" / entry["id"]).is_file():
            source = images / "images" / entry["id"]
        yield Item(str(key), str(entry["edit_type"]), str(entry["prompt"]), None, source)


def load_items(benchmark: str, where: str, cache: Path, language: str, subset: str = "fullset",
               metadata: Path | None = None) -> list[Item]:
    if benchmark == "gedit":
        return list(gedit_items(where, cache, language, subset))
    if benchmark == "imgedit":
        return list(imgedit_items(where, metadata))
    raise BenchmarkError(f"unknown benchmark {benchmark!r}; choose one of {', '.join(BENCHMARKS)}")


def edited_path(benchmark: str, edited: Path, item: Item) -> Path:
    """Where the benchmark's layout keeps this item's edited image (first existing suffix, else .png)."""
    folders = [edited / item.category / (item.language or "en"), edited] if benchmark == "gedit" else [edited]
    for folder in folders:
        for suffix in EDITED_SUFFIXES:
            if (candidate := folder / f"{item.key}{suffix}").is_file():
                return candidate
    return folders[0] / f"{item.key}.png"
