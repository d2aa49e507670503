"""Instruction difficulty (NHR 3.6: "the attempts required for a successful edit"), from the state file.

Per (source, instruction) pair, over its attempts that got a verdict (failed jobs are excluded:
an outage says nothing about difficulty), taken in seed order so the number does not depend on
which thread finished first:
- `attempts`, `passes`, `pass_rate`: how many attempts were judged and how many passed the pre-filter;
- `attempts_to_pass`: the 1-based position of the first passing attempt, or null when none passed
  (`censored: true` then: "harder than `attempts`", not a number);
- `band`: `attempts_to_pass` as a label for breakdowns (`score-dataset --by difficulty.band`):
  "1 attempt", "2-3 attempts", "4+ attempts" or "no pass";
- `attempts_to_validated_pass`: the same for the first attempt whose candidate also passed
  `validate`. `validate` fills it itself: with `--keep all` or `--keep passed`, by a final pass over
  its output file (`fill_validated_difficulty`, after every run, so a resumed run brings every record
  up to date); with `--select best`, from each group's verdicts in memory. A seed counts as not
  passing unless its candidate passed; a seed whose candidate got no verdict (a judge failure, in
  the errors manifest and not judged since) makes the field null ("unknown") for the pair when it
  comes before the first pass, since it might have been the first. Null too before validate has
  run, or when no attempt passed. `export --order difficulty` recomputes it from `--keep all`
  records (`with_validated_difficulty`). Triplets made from a candidate (inverse, bootstrap) carry
  its block along: their difficulty is the forward instruction's.
Per category: the pre-filter pass rate over all judged attempts with a Wilson 95 % interval.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import orjson

from hilite_cli.images import file_mode, write_bytes_atomic
from hilite_cli.manifest import repair_torn_tail, write_target
from hilite_cli.outputs import temp_prefix
from hilite_cli.records import Record
from hilite_cli.stages.mine.categories import default_category

Pair = tuple[str, str]
Z95 = 1.959963984540054


def verdict(outcome: str) -> bool | None:
    """True for a pre-filter pass, False for a rejection, None for a failure (no verdict)."""
    if outcome == "passed":
        return True
    return None if outcome.startswith("failed:") else False


def wilson(passes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval of a binomial proportion; None without observations."""
    if n <= 0:
        return None
    p = passes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _first(seeds: list[int], passing: set[int]) -> int | None:
    return next((i + 1 for i, s in enumerate(seeds) if s in passing), None)


def band(first: int | None) -> str:
    if first is None:
        return "no pass"
    return "1 attempt" if first == 1 else "2-3 attempts" if first <= 3 else "4+ attempts"


def pair_difficulty(entries: Iterable[Record], category: str) -> Record:
    """The difficulty block of one pair from its job entries (the last state line per job)."""
    judged = sorted((e["seed"], v) for e in entries if (v := verdict(e["outcome"])) is not None)
    seeds = [s for s, _ in judged]
    passed = [s for s, v in judged if v]
    first = _first(seeds, set(passed))
    return {
        "category": category,
        "attempts": len(seeds),
        "passes": len(passed),
        "pass_rate": len(passed) / len(seeds) if seeds else None,
        "attempts_to_pass": first,
        "censored": first is None,
        "band": band(first),
        "attempts_to_validated_pass": None,
        "seeds_tried": seeds,
        "seeds_passed": passed,
    }


def difficulties(jobs: Mapping[str, Record], categories: Mapping[Pair, str]) -> dict[Pair, Record]:
    """Difficulty per pair from the state file's job entries (id -> last entry)."""
    grouped: dict[Pair, list[Record]] = defaultdict(list)
    for entry in jobs.values():
        grouped[(entry["source"], entry["instruction"])].append(entry)
    fallback = default_category()
    return {pair: pair_difficulty(entries, categories.get(pair, fallback)) for pair, entries in grouped.items()}


def category_stats(per_pair: Mapping[Pair, Record]) -> dict[str, Record]:
    """Per category: pairs, judged attempts, passes, pass rate with Wilson 95 % interval, and the mean
    attempts to the first pass over pairs that passed (censored pairs counted apart)."""
    out: dict[str, Record] = {}
    for category in sorted({d["category"] for d in per_pair.values()}):
        rows = [d for d in per_pair.values() if d["category"] == category]
        n = sum(d["attempts"] for d in rows)
        k = sum(d["passes"] for d in rows)
        firsts = [d["attempts_to_pass"] for d in rows if d["attempts_to_pass"] is not None]
        interval = wilson(k, n)
        out[category] = {
            "pairs": len(rows),
            "attempts": n,
            "passes": k,
            "pass_rate": k / n if n else None,
            "pass_rate_ci95": list(interval) if interval else None,
            "mean_attempts_to_pass": sum(firsts) / len(firsts) if firsts else None,
            "pairs_without_pass": sum(d["censored"] for d in rows if d["attempts"]),
        }
    return out


def annotate_pool(pool: Path, per_pair: Mapping[Pair, Record]) -> int:
    """Rewrite the pool (atomically) with each candidate's pair difficulty and category; how many changed.

    Run at the end of every `mine` run, so a resumed run brings every candidate up to date.
    """
    if not pool.is_file():
        return 0
    repair_torn_tail(pool)
    lines, changed = [], 0
    for raw in pool.read_bytes().splitlines():
        if not raw.strip():
            continue
        record = orjson.loads(raw)
        block = per_pair.get((record.get("parent"), record.get("instruction")))
        if block is not None and (record.get("difficulty") != block or record.get("category") != block["category"]):
            record = {**record, "category": block["category"], "difficulty": block}
            changed += 1
        lines.append(orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")
    if changed:
        write_bytes_atomic(pool, b"".join(lines))
    return changed


def first_validated(seeds_tried: list[int], passed: AbstractSet[int], unknown: AbstractSet[int] = frozenset()) -> int | None:
    """1-based position in `seeds_tried` of the first seed that passed validate; None when none did,
    or when a seed before it has no verdict (it might have been the first)."""
    for position, seed in enumerate(seeds_tried, start=1):
        if seed in passed:
            return position
        if seed in unknown:
            return None
    return None


def _pair_key(record: Record) -> tuple[Any, Any]:
    """(task, instruction): a candidate names its task in `parent`, a forward triplet in `task`."""
    return (record.get("task") if "kind" in record else record.get("parent"), record.get("instruction"))


def _verdict(record: Record, *, triplets: bool) -> tuple[str, int, bool] | None:
    """(candidate id, seed, passed) of a validate output record with a difficulty block, else None:
    a scored candidate (`--keep all`), or with `triplets` a forward triplet (`--keep passed`: a pass)."""
    seed = record.get("seed")
    if not isinstance(record.get("difficulty"), dict) or not isinstance(seed, int) or record.get("error"):
        return None
    if "thresholds" in record and "kind" not in record:
        return str(record.get("id")), seed, record.get("passed") is True
    if triplets and record.get("kind") == "forward" and record.get("parents"):
        return str(record["parents"][0]), seed, True
    return None


class _PairVerdicts:
    """What validate said about one pair's seeds: the compact state `attempts_to_validated_pass` needs."""

    __slots__ = ("passed", "scored", "unknown", "seeds_passed")

    def __init__(self) -> None:
        self.passed: set[int] = set()
        self.scored: set[int] | None = None  # seeds of scored candidates (`--keep all`), None for triplets only
        self.unknown: set[int] = set()
        self.seeds_passed: set[Any] = set()  # seeds that passed mine's pre-filter, from the records' blocks

    def add(self, record: Record, found: tuple[str, int, bool]) -> None:
        if "kind" not in record:  # a scored candidate, not a triplet
            self.scored = self.scored if self.scored is not None else set()
            self.scored.add(found[1])
        if found[2]:
            self.passed.add(found[1])

    def note_block(self, record: Record) -> None:
        block = record.get("difficulty")
        if isinstance(block, dict) and isinstance(block.get("seeds_passed"), list):
            self.seeds_passed.update(block["seeds_passed"])

    def first(self, seeds_tried: list[int]) -> int | None:
        """`attempts_to_validated_pass`: with `--keep all` a seed that passed the pre-filter but has no
        record of its own is unknown."""
        unknown = self.unknown | (self.seeds_passed - self.scored if self.scored is not None else set())
        return first_validated(seeds_tried, self.passed, unknown)


def _filled(record: Record, verdicts: _PairVerdicts | None) -> Record:
    block = record.get("difficulty")
    if verdicts is None or not isinstance(block, dict) or not isinstance(block.get("seeds_tried"), list):
        return record
    return {**record, "difficulty": {**block, "attempts_to_validated_pass": verdicts.first(block["seeds_tried"])}}


def validated_difficulty(records: list[Record], errored: Iterable[Record] = (), judged_ids: Iterable[str] = (),
                         *, triplets: bool = True) -> list[Record]:
    """Records with `difficulty.attempts_to_validated_pass` from validate's verdicts on their pair.

    Passes come from scored candidates that passed and (with `triplets`) forward triplets. A seed's
    verdict is unknown when its candidate is among `errored` (validate's error records) and has no
    verdict since (not in `judged_ids`, the resume ledger, nor in `records`), or, for a pair with
    scored candidates (`--keep all`, where every judged candidate is a record), when a seed that
    passed mine's pre-filter (so went to validate) has no record. Only pairs with a verdict in
    `records` are changed.
    """
    pairs: dict[tuple[Any, Any], _PairVerdicts] = {}
    seen = set(judged_ids)
    for record in records:
        if (found := _verdict(record, triplets=triplets)) is not None:
            pairs.setdefault(_pair_key(record), _PairVerdicts()).add(record, found)
            seen.add(found[0])
    for record in errored:
        verdicts = pairs.get(_pair_key(record))
        if verdicts is not None and isinstance(record.get("seed"), int) and str(record.get("id")) not in seen:
            verdicts.unknown.add(record["seed"])
    for record in records:
        if (verdicts := pairs.get(_pair_key(record))) is not None:
            verdicts.note_block(record)
    return [_filled(record, pairs.get(_pair_key(record))) for record in records]


def with_validated_difficulty(records: list[Record]) -> list[Record]:
    """`export --order difficulty`: the field recomputed from `validate --keep all` records in the input.

    There every judged candidate of a pair is a record; triplets alone (`--keep passed`, `--select
    best`) do not say whether an earlier seed passed, so pairs without scored candidates keep what
    validate wrote.
    """
    return validated_difficulty(records, triplets=False)


_MARK = b'"difficulty"'  # a line without it has no block: passed through unparsed


class _Ungrouped(Exception):
    """A pair's records came back after another pair's: the file is not grouped by pair."""


def _errored(errors: Path | None, ledger: Path | None) -> dict[tuple[Any, Any], dict[str, int]]:
    """Validate's error records per pair (id -> seed), less those the ledger says were judged since.

    Errors are few; the ledger is streamed, never held."""
    out: dict[tuple[Any, Any], dict[str, int]] = {}
    if errors is not None and errors.is_file():
        repair_torn_tail(errors)
        with errors.open("rb") as fh:
            for raw in fh:
                record = _parsed(raw)
                if record is not None and (record.get("error") or {}).get("stage") == "validate" \
                        and isinstance(record.get("seed"), int):
                    out.setdefault(_pair_key(record), {})[str(record.get("id"))] = record["seed"]
    ids = {rid for seeds in out.values() for rid in seeds}
    if ids and ledger is not None and ledger.is_file():
        with ledger.open("rb") as fh:
            for raw in fh:
                if (rid := raw.rstrip(b"\n").decode("utf-8", "replace")) in ids:
                    for seeds in out.values():
                        seeds.pop(rid, None)
    return out


def _parsed(raw: bytes) -> Record | None:
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def _close(verdicts: _PairVerdicts, key: tuple[Any, Any], errored: dict[tuple[Any, Any], dict[str, int]],
           seen: set[str]) -> None:
    verdicts.unknown.update(seed for rid, seed in errored.get(key, {}).items() if rid not in seen)


def _verdicts_of(raw: bytes) -> Record | None:
    """The record of a line with a difficulty block; None for every other line (left unparsed when it
    cannot have one)."""
    record = _parsed(raw) if _MARK in raw else None
    return record if record is not None and isinstance(record.get("difficulty"), dict) else None


def _fills(held: list[tuple[bytes, Record | None]], verdicts: _PairVerdicts) -> Iterator[tuple[bytes, Record | None]]:
    """The lines with their filled records (None when unchanged); a pair with no verdict is left as it is."""
    judged = bool(verdicts.passed) or verdicts.scored is not None
    for raw, record in held:
        block = record["difficulty"] if record is not None and judged else {}
        tried = block.get("seeds_tried")
        if isinstance(tried, list) and ("attempts_to_validated_pass" not in block
                                        or block["attempts_to_validated_pass"] != verdicts.first(tried)):
            yield raw, _filled(record, verdicts)  # type: ignore[arg-type]  # a record whenever block is not {}
        else:
            yield raw, None


def _grouped(output: Path, errored: dict[tuple[Any, Any], dict[str, int]]) -> Iterator[tuple[bytes, Record | None]]:
    """(line, its filled record or None when unchanged) in file order, one pair held at a time.

    Raises `_Ungrouped` when a finished pair comes back; finished pairs are remembered by hash only."""
    finished: set[int] = set()
    key: tuple[Any, Any] | None = None
    verdicts, seen = _PairVerdicts(), set()
    held: list[tuple[bytes, Record | None]] = []

    def flush() -> Iterator[tuple[bytes, Record | None]]:
        if key is not None:
            _close(verdicts, key, errored, seen)
        yield from _fills(held, verdicts)

    with output.open("rb") as fh:
        for raw in fh:
            record = _verdicts_of(raw)
            if record is None:
                if key is None:
                    yield raw, None
                else:
                    held.append((raw, None))
                continue
            if _pair_key(record) != key:
                yield from flush()
                if key is not None:
                    finished.add(hash(key))
                key, verdicts, seen, held = _pair_key(record), _PairVerdicts(), set(), []
                if hash(key) in finished:
                    raise _Ungrouped
            if (found := _verdict(record, triplets=True)) is not None:
                verdicts.add(record, found)
                seen.add(found[0])
            verdicts.note_block(record)
            held.append((raw, record))
        yield from flush()


def _ungrouped(output: Path, errored: dict[tuple[Any, Any], dict[str, int]]) -> Iterator[tuple[bytes, Record | None]]:
    """The same as `_grouped` for a file whose pairs interleave: a first pass keeps every pair's compact
    verdicts (seeds, not records), a second fills the lines in."""
    pairs: dict[tuple[Any, Any], _PairVerdicts] = {}
    seen: set[str] = set()
    with output.open("rb") as fh:
        for raw in fh:
            if (record := _verdicts_of(raw)) is not None:
                verdicts = pairs.setdefault(_pair_key(record), _PairVerdicts())
                if (found := _verdict(record, triplets=True)) is not None:
                    verdicts.add(record, found)
                    seen.add(found[0])
                verdicts.note_block(record)
    for key, verdicts in pairs.items():
        _close(verdicts, key, errored, seen)
    with output.open("rb") as fh:
        for raw in fh:
            record = _verdicts_of(raw)
            yield from _fills([(raw, record)], pairs[_pair_key(record)] if record is not None else _PairVerdicts())


def fill_validated_difficulty(output: Path, errors: Path | None = None, ledger: Path | None = None) -> int:
    """Rewrite validate's output file (atomically) with `attempts_to_validated_pass` filled in; how
    many records changed. `errors` is the errors manifest, `ledger` the resume ledger (`.done`).

    Streams: a file without difficulty blocks costs one byte scan; one grouped by pair (as mine and
    edit write it, and validate keeps that order) holds one pair at a time; an interleaved one holds
    each pair's seeds, never its records. Nothing is written unless something changed."""
    if not output.is_file():
        return 0
    repair_torn_tail(output)
    with output.open("rb") as fh:
        if not any(_MARK in raw for raw in fh):
            return 0
    errored = _errored(errors, ledger)
    try:
        changed = sum(filled is not None for _, filled in _grouped(output, errored))
        source = _grouped
    except _Ungrouped:
        changed = sum(filled is not None for _, filled in _ungrouped(output, errored))
        source = _ungrouped
    if changed:
        _rewrite(output, source(output, errored))
    return changed


def _rewrite(output: Path, lines: Iterator[tuple[bytes, Record | None]]) -> None:
    """Stream the lines into a temp file beside `output` and rename it over, as `write_bytes_atomic`
    does (a symlink written through, the same temp names and mode), without the whole file in memory."""
    target = Path(write_target(output))
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(target), suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            for raw, filled in lines:
                fh.write(raw if filled is None else orjson.dumps(filled, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def difficulty_key(record: Record) -> tuple[int, float, float, str]:
    """Sort key easy -> hard: attempts to the validated pass (else the pre-filter pass), then the
    pair's pass rate (higher first); records without a difficulty go last."""
    block = record.get("difficulty") if isinstance(record.get("difficulty"), dict) else {}
    first = block.get("attempts_to_validated_pass") or block.get("attempts_to_pass")
    rate = block.get("pass_rate")
    if first is None:
        return (1, math.inf, 0.0, str(record.get("id")))
    return (0, float(first), -(rate or 0.0), str(record.get("id")))
