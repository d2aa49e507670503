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
    from hilite_cli.store.editing import route_one

    check_provider("--provider", provider, base_url)
    routed = route_one(task, provider, top_k=top_k, base_url=base_url, max_retries=max_retries)
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


def _prompt(question: str, **options: Any) -> Any:
    """One answer at the terminal, asked on stderr (stdout carries the candidates' JSONL); Ctrl-C or
    Ctrl-D there is an interrupt (exit 130), as anywhere else in a run."""
    try:
        return typer.prompt(question, err=True, **options)
    except typer.Abort:
        raise KeyboardInterrupt from None


def _ask(question: str) -> int:
    """One 1–5 answer."""
    while True:
        value = _prompt(question, type=int)
        if 1 <= value <= 5:
            return value
        typer.echo("please answer 1, 2, 3, 4 or 5", err=True)


def ask_feedback(instruction_match: int | None, original_match: int | None, offensive: str | None,
                 comment: str | None) -> tuple[int, int, str | None, str | None]:
    """HILITE's feedback (module 4): (a) instruction match and (b) structure match, 1–5, from the options
    or else asked at the terminal, never guessed; at the terminal also (c) whether it is offensive, with
    a description, and (d) anything else, both optional (Enter skips)."""
    missing = [flag for flag, value in (("--instruction-match", instruction_match),
                                        ("--original-match", original_match)) if value is None]
    if not missing:
        return instruction_match, original_match, offensive, comment  # type: ignore[return-value]
    if not sys.stdin.isatty():
        raise usage_error(f"--pick asks for the feedback scores at a terminal, but stdin is not one: "
                          f"pass {' and '.join(missing)} (1-5)")
    if instruction_match is None:
        instruction_match = _ask("(a) How closely does it match the instruction (1-5)?")
    if original_match is None:
        original_match = _ask("(b) How closely does it keep the original's structure (1-5)?")
    if offensive is None:
        offensive = _prompt("(c) Is anything in it offensive? Describe it (Enter: nothing)", default="",
                            show_default=False).strip() or None
    if comment is None:
        comment = _prompt("(d) Anything else to say about it? (Enter: nothing)", default="",
                          show_default=False).strip() or None
    return instruction_match, original_match, offensive, comment


def pick_candidate(out: Path, task: Record, candidates: list[Record], slot: str, *, instruction_match: int | None,
                   original_match: int | None, offensive: str | None, comment: str | None,
                   knobs: dict[str, Any] | None = None) -> Record:
    """Copy the chosen candidate beside the others and append HILITE's feedback record (returned).

    The record keeps "all prompts and parameters used" (HILITE III-E): the knobs asked for, the
    chosen model's effective parameters and prompt, and the prompt written for every routed model.
    """
    from hilite_cli.manifest import ManifestWriter
    from hilite_cli.records import stable_id

    chosen = next((c for c in candidates if c["slot"] == slot.upper()), None)
    if chosen is None:
        raise usage_error(f"no candidate in slot {slot!r}; slots are {', '.join(c['slot'] for c in candidates)}")
    instruction_match, original_match, offensive, comment = ask_feedback(instruction_match, original_match,
                                                                         offensive, comment)
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
        "matches_instruction": instruction_match,
        "matches_original": original_match,
        "offensive": offensive is not None,
        "offensive_description": offensive,
        "comment": comment,
        "slots": [{"slot": c["slot"], "candidate": c["id"], "model": c["model"]} for c in candidates],
        "knobs": knobs or {},
        "params": chosen.get("params"),
        "prompt": chosen.get("prompt"),
        "prompts": [{k: m[k] for k in ("name", "prompt", "source_prompt", "target_prompt") if m.get(k) is not None}
                    for m in task.get("models", [])],
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    feedback["id"] = stable_id(feedback["task"], feedback["chosen_candidate"], feedback["time"])
    with ManifestWriter(str(out / "feedback.jsonl"), resume=True) as fh:
        fh.write(feedback)
    print(f"kept slot {chosen['slot']}: {kept}; feedback appended to {out / 'feedback.jsonl'}", file=sys.stderr)
    return feedback


def session_input(data: Path | None, name: str, image: str) -> str:
    """The image a `--session` edit starts from: IMAGE for a new session, else the session's last pick."""
    from hilite_cli.cli.data_option import open_store
    from hilite_cli.store import StoreError, sessions

    store = open_store(data)
    try:
        if sessions.find_session(store, name) is None:
            sessions.create_session(store, name, store.blobs.put_file(image))
            print(f"session {name}: new, starting from {image}", file=sys.stderr)
        current, number = sessions.current_image(store, name)
        unpicked = sessions.unpicked_after(sessions.steps(store, name), number)
    except (StoreError, ValueError) as exc:
        raise usage_error(str(exc)) from None
    start = f"the image picked at step {number}" if number else "the session's base image"
    if unpicked:
        print(f"session {name}: step(s) {', '.join(map(str, unpicked))} were never picked, so they are not kept: "
              f"this step starts from {start} (pick one with --pick, or see `hilite session show {name}`)",
              file=sys.stderr)
    elif number:
        print(f"session {name}: this step starts from {start} (the IMAGE argument only starts a new session)",
              file=sys.stderr)
    return str(store.blobs.path(current))


def record_session_step(data: Path | None, name: str, record: Record, candidates: list[Record],
                        knobs: dict[str, Any]) -> int:
    """Store this run's candidates as the session's pending step (a re-run reuses it); its id."""
    from hilite_cli.cli.data_option import open_store
    from hilite_cli.store import sessions
    from hilite_cli.store.editing import candidate_entry, route_summary

    store = open_store(data)
    blobs = {f: store.blobs.put_file(record[f]) if record.get(f) else None
             for f in ("image", "reference_image", "mask", "reference_mask")}
    step = sessions.start_step(store, name, input_image=blobs["image"], instruction=record["instruction"],
                               knobs=knobs, task_id=record["id"], reference_image=blobs["reference_image"],
                               mask=blobs["mask"], reference_mask=blobs["reference_mask"])
    if step["status"] != "picked":
        sessions.finish_step(store, step["id"], route=route_summary(record, record["models"]),
                             candidates=[candidate_entry(store, c, c["slot"]) for c in candidates])
    print(f"session {name}: step {step['number']} recorded", file=sys.stderr)
    return int(step["id"])


def pick_session_step(data: Path | None, step_id: int, feedback: Record) -> None:
    """The terminal pick becomes the session's pick: its image is where the next step starts."""
    from hilite_cli.cli.data_option import open_store
    from hilite_cli.store import StoreError, sessions

    try:
        sessions.pick(open_store(data), step_id, feedback["chosen_slot"], feedback)
    except StoreError as exc:
        raise usage_error(str(exc)) from None
