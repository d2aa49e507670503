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
  `validate`, filled in by `with_validated_difficulty` from `validate --keep all` output (null
  before validate has run, after `--select best`, which keeps one candidate per pair, or when no
  attempt passed). Triplets made from a candidate (inverse, bootstrap) carry its block along:
  their difficulty is the forward instruction's.
Per category: the pre-filter pass rate over all judged attempts with a Wilson 95 % interval.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from hilite_cli.images import write_bytes_atomic
from hilite_cli.manifest import repair_torn_tail
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


def _pair_key(record: Record) -> tuple[Any, Any]:
    return (record.get("parent"), record.get("instruction"))


def with_validated_difficulty(records: list[Record]) -> list[Record]:
    """Fill `difficulty.attempts_to_validated_pass` from validate's verdicts on the same pair's candidates.

    Only `validate --keep all` output can say it (scored candidates, each with validate's `passed`
    and `thresholds`): there every candidate of a pair has a verdict. `--select best` triplets keep
    one candidate per pair, so whether an earlier seed also passed is unknown and the field stays
    as it was (null). A pair's validated seeds are those of its scored candidates that passed.
    """
    validated: dict[tuple[Any, Any], set[int]] = defaultdict(set)
    judged: set[tuple[Any, Any]] = set()
    for record in records:
        if isinstance(record.get("difficulty"), dict) and "thresholds" in record and not record.get("error"):
            judged.add(_pair_key(record))
            if record.get("passed") is True and isinstance(record.get("seed"), int):
                validated[_pair_key(record)].add(record["seed"])
    out = []
    for record in records:
        block = record.get("difficulty")
        if isinstance(block, dict) and isinstance(block.get("seeds_tried"), list) and _pair_key(record) in judged:
            first = _first(block["seeds_tried"], validated.get(_pair_key(record), set()))
            record = {**record, "difficulty": {**block, "attempts_to_validated_pass": first}}
        out.append(record)
    return out


def difficulty_key(record: Record) -> tuple[int, float, float, str]:
    """Sort key easy -> hard: attempts to the validated pass (else the pre-filter pass), then the
    pair's pass rate (higher first); records without a difficulty go last."""
    block = record.get("difficulty") if isinstance(record.get("difficulty"), dict) else {}
    first = block.get("attempts_to_validated_pass") or block.get("attempts_to_pass")
    rate = block.get("pass_rate")
    if first is None:
        return (1, math.inf, 0.0, str(record.get("id")))
    return (0, float(first), -(rate or 0.0), str(record.get("id")))
