"""The terminal side of HILITE's loop: route one task, show its candidates, record the pick."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Any

import typer

from hilite_cli.cli.runner import usage_error
from hilite_cli.records import Record


def route_task(task: Record, provider: str, top_k: int | None, base_url: str | None, max_retries: int | None = None) -> Record:
    """Run the router on one task in-process; a routing failure is reported and stops the command."""
    from hilite_cli.cli.params import check_provider
    from hilite_cli.engine.local import run_batch
    from hilite_cli.stages.route import RouteStage

    check_provider("--provider", provider, base_url)
    stage = RouteStage(provider, top_k=top_k, base_url=base_url, max_retries=max_retries)
    stage.setup()
    try:
        [routed] = run_batch(stage, [(1, task)])
    finally:
        stage.teardown()
    if routed.get("error"):
        print(f"hilite edit: routing failed: {routed['error']['message']}", file=sys.stderr)
        raise typer.Exit(1)
    names = ", ".join(m["name"] for m in routed["models"])
    print(f"intent: {routed['intent']} ({routed['router']['provider']}); models: {names}", file=sys.stderr)
    return routed


def print_candidates(manifest: Path, parent: str, *, reveal: bool) -> list[Record]:
    """This task's candidates: JSONL on stdout like every stage (so `hilite edit IMG "…" | hilite validate -`
    works), and a short table of slots on stderr for the person at the terminal."""
    from rich.table import Table

    from hilite_cli.cli.terminal import stderr_console
    from hilite_cli.manifest import ManifestWriter, read_records

    candidates = [r for r in read_records(str(manifest)) if r.get("parent") == parent and r.get("slot")]
    candidates.sort(key=lambda c: (len(c["slot"]), c["slot"]))
    table = Table(title=None)
    table.add_column("slot")
    if reveal:
        table.add_column("model")
    table.add_column("seed")
    table.add_column("image")
    for c in candidates:
        row = [c["slot"], *([c["model"]] if reveal else []), str(c["seed"]), c["output"]]
        table.add_row(*row)
    console = stderr_console()
    if candidates:
        console.print(table)
    if candidates and candidates[0].get("sheet"):
        console.print(f"contact sheet: {candidates[0]['sheet']}")
    with ManifestWriter("-") as out:
        for c in candidates:
            out.write(c)
    return candidates


def _ask_score(value: int | None, question: str) -> int | None:
    if value is not None or not sys.stdin.isatty():
        return value
    return typer.prompt(question, type=typer.IntRange(1, 5))


def pick_candidate(out: Path, task: Record, candidates: list[Record], slot: str, *, instruction_match: int | None,
                   original_match: int | None, offensive: str | None, comment: str | None) -> None:
    """Copy the chosen candidate beside the others and append HILITE's feedback record."""
    from hilite_cli.manifest import ManifestWriter
    from hilite_cli.records import stable_id

    chosen = next((c for c in candidates if c["slot"] == slot.upper()), None)
    if chosen is None:
        raise usage_error(f"no candidate in slot {slot!r}; slots are {', '.join(c['slot'] for c in candidates)}")
    kept = out.resolve() / f"picked-{task['id']}{Path(chosen['output']).suffix}"
    shutil.copyfile(chosen["output"], kept)
    feedback = {
        "task": task["id"],
        "image": task["image"],
        "instruction": task["instruction"],
        "chosen_slot": chosen["slot"],
        "chosen_candidate": chosen["id"],
        "chosen_model": chosen["model"],
        "output": str(kept),
        "matches_instruction": _ask_score(instruction_match, "How closely does it match the instruction (1-5)?"),
        "matches_original": _ask_score(original_match, "How closely does it keep the original's structure (1-5)?"),
        "offensive": offensive is not None,
        "offensive_description": offensive,
        "comment": comment,
        "slots": [{"slot": c["slot"], "candidate": c["id"], "model": c["model"]} for c in candidates],
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    feedback["id"] = stable_id(feedback["task"], feedback["chosen_candidate"], feedback["time"])
    with ManifestWriter(str(out / "feedback.jsonl"), resume=True) as fh:
        fh.write(feedback)
    print(f"kept slot {chosen['slot']}: {kept}; feedback appended to {out / 'feedback.jsonl'}", file=sys.stderr)
