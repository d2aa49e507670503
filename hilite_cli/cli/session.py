"""`hilite session`: the steps of an edit session (HILITE modules 4–5) — list, show, revert, publish."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from hilite_cli.cli.data_option import DataDir, open_store

SHORT = "Edit sessions: list them, show a session's steps, revert to a step, publish the result."
HELP = f"""{SHORT}

\b
  hilite edit photo.jpg "make it black and white" --session trip --models classic --out o/
  hilite edit photo.jpg "make it black and white" --session trip --models classic --out o/ --pick A
  hilite session show trip
  hilite session revert trip 1
  hilite session publish trip --title "Old days" --description "b/w" --public --satisfaction 4

Each `hilite edit … --session NAME` records a step; the next one starts from the image picked last.
The store is the same one `hilite studio` serves.
"""

app = typer.Typer(help=HELP, short_help=SHORT, no_args_is_help=True, add_completion=False, rich_markup_mode=None)


def _fail(exc: Exception) -> typer.Exit:
    from hilite_cli.cli.runner import usage_error

    return usage_error(str(exc))


@app.command("list")
def list_command(data: DataDir = None) -> None:
    """Every session: kept steps and publications."""
    from rich.console import Console
    from rich.table import Table

    from hilite_cli.store import sessions

    rows = sessions.list_sessions(open_store(data))
    table = Table()
    for column in ("session", "kept steps", "published"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], str(row["steps"]), str(row["publications"]))
    Console().print(table if rows else "no sessions yet")


@app.command("show")
def show_command(name: Annotated[str, typer.Argument(help="Session name.")], data: DataDir = None,
                 json: Annotated[bool, typer.Option("--json", help="Print the steps as JSONL.")] = False) -> None:
    """The steps of one session: instruction, intent, pick and feedback; model names only once picked."""
    from rich.console import Console
    from rich.table import Table

    from hilite_cli.store import StoreError, sessions

    store = open_store(data)
    try:
        all_steps = sessions.steps(store, name)
        current, number = sessions.current_image(store, name)
    except StoreError as exc:
        raise _fail(exc) from None
    if json:
        import orjson

        for step in all_steps:
            sys.stdout.write(orjson.dumps(step).decode() + "\n")
        return
    table = Table(title=f"session {name}")
    for column in ("step", "status", "instruction", "intent", "pick", "model", "feedback"):
        table.add_column(column)
    for s in all_steps:
        chosen = next((c for c in s["candidates"] or [] if c["slot"] == s["pick"]), None)
        fb = s["feedback"] or {}
        feedback = " ".join(f"{k[8:]}={fb[k]}" for k in ("matches_instruction", "matches_original") if fb.get(k))
        status = "reverted" if s["reverted"] else s["status"]
        table.add_row(str(s["number"]), status, s["instruction"], (s["route"] or {}).get("intent") or "",
                      s["pick"] or "", chosen["model"] if chosen else "", feedback)
    console = Console()
    console.print(table)
    console.print(f"current image: {store.blobs.folder / (current + '.png')} (from step {number})")


@app.command("revert")
def revert_command(name: Annotated[str, typer.Argument(help="Session name.")],
                   step: Annotated[int, typer.Argument(min=0, help="The step to go back to (0 = the base image).")],
                   data: DataDir = None) -> None:
    """Go back to a step; later steps stay in the history, marked reverted."""
    from hilite_cli.store import StoreError, sessions

    try:
        undone = sessions.revert(open_store(data), name, step)
    except StoreError as exc:
        raise _fail(exc) from None
    print(f"session {name}: back to step {step} ({undone} later step(s) reverted)", file=sys.stderr)


@app.command("publish")
def publish_command(
    name: Annotated[str, typer.Argument(help="Session name.")],
    title: Annotated[str, typer.Option(help="Title shown in the gallery.")],
    description: Annotated[str, typer.Option(help="Description shown in the gallery.")] = "",
    public: Annotated[bool, typer.Option("--public/--private", help="Shown to everyone, or only in your store.")] = True,
    satisfaction: Annotated[int | None, typer.Option(min=1, max=5, help="Overall satisfaction, 1–5.")] = None,
    data: DataDir = None,
) -> None:
    """Publish the session's kept steps, with every prompt and parameter used."""
    from hilite_cli.store import StoreError, gallery

    try:
        publication = gallery.publish(open_store(data), name, title=title, description=description, public=public,
                                      satisfaction=satisfaction)
    except StoreError as exc:
        raise _fail(exc) from None
    print(f"published session {name} as #{publication} ({'public' if public else 'private'})", file=sys.stderr)
