"""`hilite rate-tasks` and `hilite rate-export`: collect NHR's human ratings for `debias`."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from hilite_cli.cli.data_option import DataDir, open_store
from hilite_cli.cli.options import Output

TASKS_SHORT = "Build rating tasks from a candidates or triplets manifest: 2–4 raters per item, personal tokens."
TASKS_HELP = f"""{TASKS_SHORT}

\b
  hilite rate-tasks triplets.jsonl --data studio/ --raters ann,bo,cy --per-item 3
  hilite studio --data studio/          # raters open /rate?token=THEIR_TOKEN
  hilite rate-export --data studio/ -o ratings.jsonl
  hilite debias ratings.jsonl --predictions validator.jsonl

Each item (a triplet's source/edited, or a candidate's image/output) is copied into the store through
the image guard and dealt to --per-item distinct raters, round-robin. A rater's token opens only that
rater's own tasks; it is printed on stderr as soon as it is made, before any item, and a run killed
before printing it prints it the next time. Items already in the store are left as they are, so
re-running after a kill adds no duplicates.
"""

EXPORT_SHORT = "Write the collected ratings in `debias` input format: {item, rater, instruction, aesthetics}."
EXPORT_HELP = f"""{EXPORT_SHORT}

\b
  hilite rate-export --data studio/ -o ratings.jsonl && hilite debias ratings.jsonl

Skipped and unrated tasks are not ratings and are left out; the count of each goes to stderr.
"""


def _item(record: dict[str, Any]) -> tuple[str, str, str]:
    """(source, edited, instruction) of a triplet or a candidate record, or ValueError naming what is missing."""
    source = record.get("source") or record.get("image")
    edited = record.get("edited") or record.get("output")
    instruction = record.get("instruction")
    missing = [name for name, value in (("source/image", source), ("edited/output", edited),
                                        ("instruction", instruction)) if not value]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    if not isinstance(instruction, str):
        raise ValueError(f"`instruction` must be text, got {instruction!r}")
    return str(source), str(edited), instruction


def tasks_command(
    manifest: Annotated[str, typer.Argument(help="Candidates or triplets JSONL, or - for stdin.")],
    raters: Annotated[str, typer.Option(help="Comma-separated rater names.")],
    per_item: Annotated[int, typer.Option(help="Raters per item (2–4).")] = 3,
    category_field: Annotated[str, typer.Option(help="Field holding the edit category, kept for the export.")] = "category",
    data: DataDir = None,
) -> None:
    from hilite_cli.cli.params import parse_list
    from hilite_cli.cli.runner import require_manifests, usage_error
    from hilite_cli.images import ImageError
    from hilite_cli.manifest import read_manifest
    from hilite_cli.store import StoreError, ratings

    names = parse_list(raters) or []
    try:
        ratings.check_plan(names, per_item)
    except StoreError as exc:
        raise usage_error(str(exc)) from None
    require_manifests([manifest])
    store = open_store(data)
    ratings.ensure_raters(store, names)
    for name, token in ratings.unshown_tokens(store, names):
        print(f"rater {name}: token {token}  (open /rate?token={token} in `hilite studio`)", file=sys.stderr,
              flush=True)
        ratings.mark_shown(store, name)
    added = kept = failed = 0
    for line in read_manifest(manifest):
        if line.record is None:
            print(f"hilite rate-tasks: line {line.number}: {line.problem}", file=sys.stderr)
            failed += 1
            continue
        record = line.record
        try:
            source, edited, instruction = _item(record)
            new = ratings.add_item(
                store, str(record["id"]), source_image=store.blobs.put_file(source),
                edited_image=store.blobs.put_file(edited), instruction=instruction,
                category=record.get(category_field), record=record, raters=names, per_item=per_item,
            )
        except (ValueError, ImageError) as exc:
            print(f"hilite rate-tasks: line {line.number} (id {record.get('id')}): {exc}", file=sys.stderr)
            failed += 1
            continue
        added += new
        kept += not new
    print(f"rating tasks: {added} items added, {kept} already there, {failed} failed; "
          f"{per_item} raters per item", file=sys.stderr)
    if failed:
        raise typer.Exit(1)


def export_command(data: DataDir = None, output: Output = "-") -> None:
    from hilite_cli.manifest import ManifestWriter
    from hilite_cli.store import ratings

    store = open_store(data)
    rows = ratings.export(store)
    with ManifestWriter(output) as out:
        for row in rows:
            out.write(row)
    print(f"rate-export: {len(rows)} ratings", file=sys.stderr)
    if rows:
        print(next_steps(output, data), file=sys.stderr)


def next_steps(ratings_file: str, data: Path | None) -> str:
    """The exact chain from this round's ratings to a tuned validator (README: "Tune your validator"),
    so the studio's human ratings become the judge that `validate` and `mine` use."""
    ratings_path = "ratings.jsonl" if ratings_file == "-" else shlex.quote(ratings_file)
    store = f" --data {shlex.quote(str(data))}" if data else ""
    save = " (save this output to ratings.jsonl first)" if ratings_file == "-" else ""
    base = "Qwen/Qwen2.5-VL-7B-Instruct"
    return "\n".join([
        f"next, from these ratings to a tuned validator{save}:",
        f"  hilite debias {ratings_path} -o items.jsonl --report debias.html",
        f"  hilite tune-judge dataset {ratings_path}{store} --out tuning/ --seed 0",
        f"  hilite tune-judge train tuning/ --backend local --base {base}   # or --backend vertex --staging gs://…",
        f"  hilite tune-judge compare tuning/ --base-judge local:{base} --tuned-judge local:{base}@tuning/adapter"
        " --report before-after.html",
        f"  hilite validate candidates.jsonl --judge local:{base}@tuning/adapter",
    ])
