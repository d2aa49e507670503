"""Turn a model's text into the value an Ask expects, or a typed failure with the reason.

Nothing here guesses: text that is not the requested JSON, or not a clear yes/no, is `unparsed`.
JSON is read strictly: a key given twice, NaN or Infinity make the whole reply `unparsed` (a lenient
reader keeps the last duplicate, so `{"IA": 1, "IA": 5}` would pass as 5), and the schemas are strict,
so `true` or `"4.8"` are never read as scores.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from hilite_cli.records import JudgeStatus

_FENCE = re.compile(r"^\s*```(?:json|JSON)?\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)
_FIRST_WORD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class Parsed:
    status: JudgeStatus
    value: Any = None
    reason: str | None = None
    # True when the reply is broken rather than answered (cut-off or malformed JSON, or empty): worth asking
    # again, so never cached.
    retryable: bool = False


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def strict_json(body: str) -> Any:
    """`json.loads` that refuses duplicate keys and NaN/Infinity (which orjson and json would accept or keep the last of)."""
    return json.loads(body, object_pairs_hook=_unique_keys, parse_constant=_no_constants)


def parse_json(text: str, schema: type[BaseModel] | None) -> Parsed:
    """JSON (optionally inside one Markdown code fence), validated against `schema` when given."""
    match = _FENCE.match(text)
    body = match.group(1) if match else text
    try:
        data = strict_json(body.strip())
    except _DuplicateKey as exc:
        return Parsed("unparsed", reason=f"reply gives the key `{exc}` more than once, so no value can be trusted")
    except (ValueError, RecursionError) as exc:
        # JSON that was begun but broke (or nothing at all) is a broken reply, worth asking again; prose
        # instead of JSON is the model's own complete answer, as deterministic as any other
        broken = not body.strip() or body.lstrip()[:1] in ("{", "[")
        return Parsed("unparsed", reason=f"reply is not valid JSON: {exc}", retryable=broken)
    if schema is None:
        return Parsed("ok", data)
    try:
        return Parsed("ok", schema.model_validate(data))
    except ValidationError as exc:
        problems = "; ".join(
            f"`{'.'.join(str(p) for p in err['loc']) or '(root)'}`: {err['msg'].lower()}" for err in exc.errors()
        )
        return Parsed("unparsed", reason=f"reply does not match {schema.__name__}: {problems}")


def parse_yesno(text: str) -> Parsed:
    """True/False from a reply whose first word is yes or no (the A.3–A.5 answer format)."""
    match = _FIRST_WORD.search(text)
    word = match.group(0).lower() if match else ""
    if word in ("yes", "no"):
        return Parsed("ok", word == "yes")
    return Parsed("unparsed", reason=f"expected 'yes' or 'no', got {text.strip()[:80]!r}")


def interpret(text: str, expect: str, schema: type[BaseModel] | None) -> Parsed:
    """Dispatch on the Ask's `expect`."""
    if expect == "json":
        return parse_json(text, schema)
    if expect == "yesno":
        return parse_yesno(text)
    return Parsed("ok", text)


def value_to_json(value: Any) -> bytes:
    """Serialise an answer's value for the cache."""
    if isinstance(value, BaseModel):
        return value.model_dump_json().encode()
    return orjson.dumps(value)


def value_from_json(data: bytes, expect: str, schema: type[BaseModel] | None) -> Any:
    """The inverse of `value_to_json` for a cached answer."""
    if expect == "json" and schema is not None:
        return schema.model_validate_json(data)
    return orjson.loads(data)
