"""The parts of a record every module needs, without pydantic: ids, path fields, record errors.

Kept apart from `records.py` so that the CLI, the manifest reader and the executor start without
building pydantic models (shell pipelines start one process per stage).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

Record = dict[str, Any]

# Fields that hold image paths: resolved against the manifest's directory on read,
# written relative to the output manifest's directory.
PATH_FIELDS: tuple[str, ...] = (
    "image",
    "mask",
    "reference_image",
    "reference_mask",
    "output",
    "source",
    "edited",
    "sheet",
)


def stable_id(*parts: Any) -> str:
    """A short, stable hash of what defines a record (bytes, strings or JSON-able values)."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, bytes):
            data = part
        elif isinstance(part, str):
            data = part.encode()
        else:
            data = orjson.dumps(part, option=orjson.OPT_SORT_KEYS)
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()[:16]


class RecordError(Exception):
    """Raised by a stage for one record: the executor turns it into an error record."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def with_error(record: Record, stage: str, kind: str, message: str) -> Record:
    """A copy of `record` carrying `error: {stage, kind, message}`."""
    return {**record, "error": {"stage": stage, "kind": kind, "message": message}}
