"""Survival statistics like NHR Table 3, computed from the state file (so they cover resumed runs).

Every job of the queue is accounted for exactly once: passed, rejected at a named stage (a2, a3,
a4, lowlevel), failed with a reason, dropped (`--until-first-pass`: its pair already passed) or
unsampled (the budget ran out first), or awaiting the pre-filter (--batch-api: its batch job was still
running when --batch-wait ended). `accounted` is true when those add up to the queue.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hilite_cli.stages.mine.jobs import AWAITING_GATE
from hilite_cli.stages.mine.prefilter import STAGES
from hilite_cli.stages.mine.sources import USABLE

if TYPE_CHECKING:
    from hilite_cli.stages.mine.jobs import Job, StateFile
    from hilite_cli.stages.mine.sources import SourcePlan


@dataclass
class Session:
    """This process's timing: model loading, model calls (GPU busy) and wall time of the loop."""

    start: float
    load_s: float = 0.0
    busy_s: float = 0.0
    wall_s: float = 0.0
    stop_reason: str = "queue_empty"
    first_call: float | None = None  # time.time() when the first model call began, and the last ended
    last_call: float = 0.0

    def called(self, started: float, ended: float) -> None:
        """Note one model call's span (wall clock, so calls timed on Ray workers count too)."""
        self.first_call = started if self.first_call is None else min(self.first_call, started)
        self.last_call = max(self.last_call, ended)

    @property
    def steady_s(self) -> float:
        """From the first model call to the last: the loop without start-up and loading."""
        return 0.0 if self.first_call is None else self.last_call - self.first_call


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _source_stats(plans: list[SourcePlan], state: StateFile) -> dict[str, Any]:
    entries = [state.sources[p.id] for p in plans if p.id in state.sources]
    outcomes = Counter(e["outcome"] for e in entries)
    awaiting = sum(p.id not in state.sources and state.awaiting.get(p.id, {}).get("outcome") == AWAITING_GATE
                   for p in plans)  # --batch-api: written, in a gate batch job --resume collects
    return {
        "planned": len(plans),
        "t2i_planned": sum(p.kind == "t2i" for p in plans),
        "photos": sum(p.kind == "photo" for p in plans),
        "generated": sum(e["kind"] == "t2i" and bool(e.get("generated")) for e in entries),
        "usable": sum(n for o, n in outcomes.items() if o in USABLE),
        "outcomes": dict(sorted(outcomes.items())),
        "awaiting_gate": awaiting,
        "not_made": len(plans) - len(entries) - awaiting,
    }


def _job_stats(universe: list[Job], state: StateFile, until_first_pass: bool) -> dict[str, Any]:
    entries = [state.jobs[j.id] for j in universe if j.id in state.jobs]
    outcomes = Counter(e["outcome"] for e in entries)
    passed_pairs = {(e["source"], e["instruction"]) for e in entries if e["outcome"] == "passed"}
    undrawn = [j for j in universe if j.id not in state.jobs]
    awaiting = sum(j.id in state.awaiting for j in undrawn)  # --batch-api: in a batch job --resume collects
    undrawn = [j for j in undrawn if j.id not in state.awaiting]
    dropped = sum(j.pair in passed_pairs for j in undrawn) if until_first_pass else 0
    rejected = {stage: outcomes.get(f"rejected:{stage}", 0) for stage in STAGES}
    failed = {o.removeprefix("failed:"): n for o, n in sorted(outcomes.items()) if o.startswith("failed:")}
    passed = outcomes.get("passed", 0)
    queue = len(universe)
    unsampled = len(undrawn) - dropped
    return {
        "queue": queue,
        "sampled": len(entries),
        "sampled_fraction": _ratio(len(entries), queue),
        "edited": sum(bool(e.get("edited")) for e in entries),
        "passed": passed,
        "rejected_at": rejected,
        "failed": failed,
        "failed_after_edit": sum(bool(e.get("edited")) for e in entries if e["outcome"].startswith("failed:")),
        "semantic_not_run": sum(e.get("semantic") == "not_run" for e in entries),
        "dropped_after_pass": dropped,
        "unsampled": unsampled,
        "awaiting_prefilter": awaiting,
        "accounted": passed + sum(rejected.values()) + sum(failed.values()) + dropped + unsampled + awaiting == queue,
    }


def _gate_method(sources: dict[str, Any], settings: dict[str, Any]) -> str:
    if sources["photos"] and not sources["t2i_planned"]:
        return "n/a (real photos)"
    return settings.get("gate") or "no gate (--no-gate)"


def _survival(sources: dict[str, Any], jobs: dict[str, Any], settings: dict[str, Any]) -> list[dict[str, Any]]:
    """Table 3's rows: how many survive each stage, and the change from the row before."""
    semantic_rejects = sum(jobs["rejected_at"][s] for s in ("a2", "a3", "a4"))
    rows = [
        ("generated", settings.get("t2i") or "real photos", sources["generated"] + sources["photos"]),
        ("gated", _gate_method(sources, settings), sources["usable"]),
        ("edited", settings["editor"], jobs["edited"]),
        ("pre-filtered", settings["prefilter"], jobs["edited"] - semantic_rejects - jobs["failed_after_edit"]),
        ("low-level", "connected components" if settings["lowlevel"] else "off", jobs["passed"]),
    ]
    out, previous = [], None
    for stage, method, count in rows:
        delta = None if not previous else 100.0 * (count - previous) / previous
        out.append({"stage": stage, "method": method, "count": count, "delta_pct": delta})
        previous = count
    return out


def _notes(state: StateFile, sources: dict[str, Any], jobs: dict[str, Any]) -> list[str]:
    gates = Counter(e["outcome"] for e in state.sources.values())
    notes = []
    if gates.get("gate_not_run"):
        notes.append(
            f"PLAUSIBILITY GATE NOT RUN for {gates['gate_not_run']} sources: the gate provider could not judge "
            "(offline); they were kept unjudged (gate.status = unavailable)"
        )
    if gates.get("gate_skipped"):
        notes.append(f"--no-gate: {gates['gate_skipped']} sources kept without the A.5 check")
    if jobs["semantic_not_run"]:
        notes.append(
            f"SEMANTIC PRE-FILTER NOT RUN for {jobs['semantic_not_run']} edits: the pre-filter provider could not "
            "judge (offline); A.2-A.4 scores are null and only the low-level check decided"
        )
    if sources["awaiting_gate"]:
        notes.append(
            f"{sources['awaiting_gate']} generated sources still await the gate in a batch job that outlived "
            "--batch-wait: run again with --resume to collect it (no second submission, no second generation)"
        )
    if jobs["awaiting_prefilter"]:
        notes.append(
            f"{jobs['awaiting_prefilter']} edits still await the pre-filter in batch jobs that outlived --batch-wait: "
            "run again with --resume to collect them (no second submission)"
        )
    return notes


def compute_stats(
    *,
    plans: list[SourcePlan],
    state: StateFile,
    universe: list[Job],
    settings: dict[str, Any],
    session: Session,
    error_records: int,
) -> dict[str, Any]:
    """The stats JSON (`--stats FILE`) for a run."""
    sources = _source_stats(plans, state)
    jobs = _job_stats(universe, state, settings["until_first_pass"])
    used_s = state.gpu_seconds() * settings["gpus"]
    loop_s = session.wall_s - session.load_s
    return {
        "sources": sources,
        "jobs": jobs,
        "survival": _survival(sources, jobs, settings),
        "budget": {
            "limit_gpu_hours": settings["budget_gpu_hours"],
            "used_gpu_hours": used_s / 3600,
            "this_run_gpu_hours": session.busy_s * settings["gpus"] / 3600,
            "stopped_by": session.stop_reason,
        },
        "utilization": {
            "wall_s": session.wall_s,
            "load_s": session.load_s,
            "gpu_busy_s": session.busy_s,
            "gpu_busy_fraction": _ratio(session.busy_s, loop_s),
            "gpu_busy_fraction_steady": _ratio(session.busy_s, session.steady_s),
        },
        "error_records": error_records,
        "notes": _notes(state, sources, jobs),
        "settings": settings,
    }


def render(stats: dict[str, Any]) -> list[Any]:
    """rich renderables for stderr: the survival table, the job accounting, budget and notes."""
    from rich.table import Table
    from rich.text import Text

    survival = Table(title="Mining survival (NHR Table 3)")
    for col in ("stage", "method / model", "remaining", "delta %"):
        survival.add_column(col, justify="right" if col in ("remaining", "delta %") else "left")
    for row in stats["survival"]:
        delta = "-" if row["delta_pct"] is None else f"{row['delta_pct']:+.1f}"
        survival.add_row(row["stage"], str(row["method"]), str(row["count"]), delta)

    jobs = stats["jobs"]
    accounting = Table(title="Jobs (source x instruction x seed)")
    accounting.add_column("outcome")
    accounting.add_column("jobs", justify="right")
    accounting.add_row("passed", str(jobs["passed"]))
    for stage, n in jobs["rejected_at"].items():
        accounting.add_row(f"rejected at {stage}", str(n))
    for reason, n in jobs["failed"].items():
        accounting.add_row(f"failed: {reason}", str(n))
    accounting.add_row("dropped (until first pass)", str(jobs["dropped_after_pass"]))
    accounting.add_row("unsampled", str(jobs["unsampled"]))
    if jobs.get("awaiting_prefilter"):
        accounting.add_row("awaiting the pre-filter (batch)", str(jobs["awaiting_prefilter"]))
    fraction = jobs["sampled_fraction"]
    accounting.add_row("queue (sampled %)", f"{jobs['queue']} ({'-' if fraction is None else f'{100 * fraction:.1f}'} %)")

    budget, util = stats["budget"], stats["utilization"]
    busy = util["gpu_busy_fraction"]
    limit = budget["limit_gpu_hours"]
    summary = Text(
        f"GPU hours used {budget['used_gpu_hours']:.4f} ({3600 * budget['used_gpu_hours']:.1f} s)"
        + (f" of {limit}" if limit is not None else "")
        + f"; stopped by {budget['stopped_by']}; GPU busy {('-' if busy is None else f'{100 * busy:.1f} %')} of "
        f"{util['wall_s'] - util['load_s']:.1f} s (model loading {util['load_s']:.1f} s)"
        + _usd_text(budget)
    )
    notes = [Text(f"NOTE: {n}", style="bold yellow") for n in stats["notes"]]
    return [survival, accounting, *difficulty_table(stats.get("difficulty") or {}), summary, *notes]


def _usd_text(budget: dict[str, Any]) -> str:
    """Provider spend: earlier runs + this run = total (of the --budget-usd limit)."""
    if budget.get("spent_usd") is None:
        return ""
    limit = budget.get("limit_usd")
    return (f"; provider spend ${budget['spent_usd']:.4f} (earlier runs ${budget['earlier_usd']:.4f} + this run "
            f"${budget['this_run_usd']:.4f})" + (f" of ${limit:g}" if limit is not None else ""))


def difficulty_table(per_category: dict[str, Any]) -> list[Any]:
    """Per category: pre-filter pass rate with its Wilson 95 % interval and attempts to the first pass."""
    from rich.table import Table

    if not per_category:
        return []
    table = Table(title="Difficulty by category (pre-filter)")
    for col in ("category", "pairs", "attempts", "passes", "pass rate [95 % CI]", "mean attempts to pass", "pairs without pass"):
        table.add_column(col, justify="left" if col == "category" else "right")
    for name, row in per_category.items():
        ci = row["pass_rate_ci95"]
        rate = "-" if row["pass_rate"] is None else f"{row['pass_rate']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"
        mean = "-" if row["mean_attempts_to_pass"] is None else f"{row['mean_attempts_to_pass']:.2f}"
        table.add_row(name, str(row["pairs"]), str(row["attempts"]), str(row["passes"]), rate, mean, str(row["pairs_without_pass"]))
    return [table]
