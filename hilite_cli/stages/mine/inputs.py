"""What `mine` starts from: prompt specs (A.1 output or hand-written), real-photo specs, plain task
records, or a folder of photos with one list of edits (the paper's future-work mode: user photos
replace T2I sources).

Every spec comes out as `{id, t2i_prompt, edits}` or `{id, image, edits}`; a line that is neither
becomes an error record, never a silent skip.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from hilite_cli.manifest import read_manifest
from hilite_cli.records import Record, check_instruction_length, stable_id, with_error

STAGE = "mine.inputs"
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})


def _edits(value: object) -> list[str] | None:
    if not isinstance(value, list) or not value or not all(isinstance(e, str) and e.strip() for e in value):
        return None
    return list(dict.fromkeys(e.strip() for e in value))


def normalise_spec(record: Record) -> Record:
    """A prompt or photo spec from one input record; raises ValueError saying what is missing."""
    edits = _edits(record.get("edits"))
    if edits is None and isinstance(record.get("instruction"), str) and record["instruction"].strip():
        edits = [record["instruction"].strip()]
    if edits is None:
        raise ValueError("needs `edits` (a non-empty list of instructions) or `instruction`")
    for edit in edits:
        check_instruction_length(edit)
    extra = {k: v for k, v in record.items() if k not in ("id", "t2i_prompt", "image", "edits", "instruction")}
    prompt = record.get("t2i_prompt")
    if isinstance(prompt, str) and prompt.strip():
        return {**extra, "id": record["id"], "t2i_prompt": prompt.strip(), "edits": edits}
    image = record.get("image")
    if isinstance(image, str) and image:
        if not Path(image).is_file():
            raise ValueError(f"image file not found: {image}")
        return {**extra, "id": record["id"], "image": image, "edits": edits}
    raise ValueError("needs `t2i_prompt` (a prompt spec) or `image` (a photo spec or task)")


def read_specs(path: str) -> tuple[list[Record], list[Record]]:
    """Specs and error records from a JSONL manifest (paths resolved against its folder)."""
    specs: list[Record] = []
    errors: list[Record] = []
    for line in read_manifest(path):
        if line.record is None:
            errors.append({"id": stable_id(path, line.number), **line.error_record(STAGE)})
            continue
        try:
            specs.append(normalise_spec(line.record))
        except ValueError as exc:
            errors.append(with_error({**line.record, "line": line.number}, STAGE, "invalid_spec", f"line {line.number}: {exc}"))
    return specs, errors


def read_edits_file(path: Path) -> list[str]:
    """Instructions from a JSON array, or one per line (blank lines and `#` comments skipped)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"--edits {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if text.lstrip().startswith("["):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"--edits {path}: malformed JSON array ({exc})") from None
        edits = _edits(value)
        if edits is None:
            raise ValueError(f"{path}: expected a JSON array of non-empty strings")
    else:
        edits = list(dict.fromkeys(ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")))
    if not edits:
        raise ValueError(f"{path}: no instructions in it")
    for number, edit in enumerate(edits, start=1):
        try:
            check_instruction_length(edit)
        except ValueError as exc:
            raise ValueError(f"--edits {path}: instruction {number}: {exc}") from None
    return edits


def photo_folder_specs(folder: Path, edits: list[str]) -> list[Record]:
    """One photo spec per image in `folder` (sorted, not recursive), each with every edit."""
    if not folder.is_dir():
        raise ValueError(f"--images {folder}: not a folder")
    photos = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
    if not photos:
        raise ValueError(f"--images {folder}: no images in it")
    return [{"id": stable_id("photo_spec", str(p.resolve()), edits), "image": str(p.resolve()), "edits": edits} for p in photos]
