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
from collections import defaultdict
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import orjson

from hilite_cli.images import write_bytes_atomic
from hilite_cli.manifest import ledger_keys, repair_torn_tail
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


def _fill(records: list[Record], passed: Mapping[tuple[Any, Any], set[int]],
          unknown: Mapping[tuple[Any, Any], set[int]], pairs: set[tuple[Any, Any]]) -> list[Record]:
    out = []
    for record in records:
        block = record.get("difficulty")
        key = _pair_key(record)
        if isinstance(block, dict) and isinstance(block.get("seeds_tried"), list) and key in pairs:
            first = first_validated(block["seeds_tried"], passed.get(key, set()), unknown.get(key, set()))
            record = {**record, "difficulty": {**block, "attempts_to_validated_pass": first}}
        out.append(record)
    return out


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
    passed: dict[tuple[Any, Any], set[int]] = defaultdict(set)
    scored: dict[tuple[Any, Any], set[int]] = {}
    pairs: set[tuple[Any, Any]] = set()
    seen = set(judged_ids)
    for record in records:
        if (found := _verdict(record, triplets=triplets)) is not None:
            key = _pair_key(record)
            pairs.add(key)
            seen.add(found[0])
            if "kind" not in record:  # a scored candidate, not a triplet
                scored.setdefault(key, set()).add(found[1])
            if found[2]:
                passed[key].add(found[1])
    unknown: dict[tuple[Any, Any], set[int]] = defaultdict(set)
    for record in errored:
        if isinstance(record.get("seed"), int) and str(record.get("id")) not in seen:
            unknown[_pair_key(record)].add(record["seed"])
    for record in records:
        block, key = record.get("difficulty"), _pair_key(record)
        if key in scored and isinstance(block, dict) and isinstance(block.get("seeds_passed"), list):
            unknown[key].update(set(block["seeds_passed"]) - scored[key])
    return _fill(records, passed, unknown, pairs)


def with_validated_difficulty(records: list[Record]) -> list[Record]:
    """`export --order difficulty`: the field recomputed from `validate --keep all` records in the input.

    There every judged candidate of a pair is a record; triplets alone (`--keep passed`, `--select
    best`) do not say whether an earlier seed passed, so pairs without scored candidates keep what
    validate wrote.
    """
    return validated_difficulty(records, triplets=False)


def _jsonl(path: Path) -> list[Record]:
    if not path.is_file():
        return []
    repair_torn_tail(path)
    return [orjson.loads(raw) for raw in path.read_bytes().splitlines() if raw.strip()]


def fill_validated_difficulty(output: Path, errors: Path | None = None, ledger: Path | None = None) -> int:
    """Rewrite validate's output file (atomically) with `attempts_to_validated_pass` filled in; how
    many records changed. `errors` is the errors manifest, `ledger` the resume ledger (`.done`)."""
    records = _jsonl(output)
    errored = [r for r in _jsonl(errors) if (r.get("error") or {}).get("stage") == "validate"] if errors else []
    judged = ledger_keys(ledger)
    filled = validated_difficulty(records, errored, judged)
    changed = sum(a != b for a, b in zip(records, filled, strict=True))
    if changed:
        write_bytes_atomic(output, b"".join(orjson.dumps(r, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n" for r in filled))
    return changed


def difficulty_key(record: Record) -> tuple[int, float, float, str]:
    """Sort key easy -> hard: attempts to the validated pass (else the pre-filter pass), then the
    pair's pass rate (higher first); records without a difficulty go last."""
    block = record.get("difficulty") if isinstance(record.get("difficulty"), dict) else {}
    first = block.get("attempts_to_validated_pass") or block.get("attempts_to_pass")
    rate = block.get("pass_rate")
    if first is None:
        return (1, math.inf, 0.0, str(record.get("id")))
    return (0, float(first), -(rate or 0.0), str(record.get("id")))
