"""The dataset card (README.md) every export writes beside its data: what each column means, how the
rows were made (editors, judges, prompt versions, thresholds, what was left out) and the licences the
records name, so a Hub user can tell what they are training on and whether they may."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from hilite_cli.config import load_config
from hilite_cli.exports.common import AtomicFile, ExportSummary

CARD = "README.md"


@dataclass(frozen=True)
class CardSpec:
    """What a format is for, how to load it, and the meaning of each column."""

    title: str
    purpose: str
    load: str
    columns: dict[str, str]
    task: str = "image-to-image"
    takes: str | None = None  # which records the format takes, when not the training sets' passed-only rule


# The scalar columns `common.flat_columns` adds to every imagefolder row.
FLAT_COLUMNS: dict[str, str] = {
    "id": "the hilite record id the row was made from",
    "score_instruction": "judge's instruction-adherence score, 1-5 (NHR prompt A.2)",
    "score_aesthetics": "judge's aesthetics score, 1-5 (NHR prompt A.2)",
    "score_geometric": "sqrt(score_instruction x score_aesthetics), the ranking score",
    "difficulty": "attempts to the first validated pass (mine's curriculum signal), null if unknown",
    "passed": "the validate/mine verdict (true; false or null only with --include-rejected; null for triplets)",
    "threshold_instruction": "the instruction threshold the verdict used (null if none recorded)",
    "threshold_aesthetics": "the aesthetics threshold the verdict used (null if none recorded)",
    "provenance": "JSON string: parent ids, editor model, seed, params, judge block, checks, category, licences",
}


# Preference and judge formats need the worse edits as much as the better ones.
ALL_SCORED = "every scored candidate, passed or not: the worse edits are half of what this format teaches"


def _counted(counter: Counter[str], empty: str = "not recorded") -> str:
    return ", ".join(f"{name} ({n})" for name, n in counter.most_common()) or empty


def _allows(licence: str) -> str:
    """What a licence allows, from configs/exports.toml [licences] (keyed by lower-case id), else a pointer to it."""
    known = load_config("exports")["licences"]
    key = licence.split(" (", 1)[0].strip().lower()
    if key in known:
        return str(known[key])
    if key == "unknown":
        return "not recorded: check the model's or the source's own terms before any use"
    return "see the licence text"


def render_card(spec: CardSpec, summary: ExportSummary) -> str:
    facts = summary.facts
    columns = "\n".join(f"| `{name}` | {meaning} |" for name, meaning in spec.columns.items())
    left_out = summary.left_out() or "none"
    editors = "\n".join(f"| {model} | {licence} | {_allows(licence)} |"
                        for model, licence in sorted(facts.editor_licences.items()))
    sources = "\n".join(f"| {licence} | {n} | {_allows(licence)} |" for licence, n in facts.source_licences.most_common())
    verdict = spec.takes or (
        "rejected records were included (--include-rejected): `passed` and the thresholds say which"
        if facts.include_rejected else "only records that passed validation (or carry no verdict, e.g. triplets)")
    return f"""---
pretty_name: "{spec.title}"
task_categories:
- {spec.task}
tags:
- image-editing
- hilite
---

# {spec.title}

{spec.purpose}

Written by `hilite export --format {summary.format}`; rows: {summary.written}.

## Load

```python
{spec.load}
```

## Columns

| column | meaning |
|---|---|
{columns}

## How it was made

- Editors (records): {_counted(facts.editors)}
- Judges (records): {_counted(facts.judges)}
- Judge prompt versions: {_counted(facts.prompts)}
- Thresholds the records were judged against: {_counted(facts.thresholds)}
- Records taken: {verdict}
- Left out: {left_out}; failed (errors manifest): {len(summary.errors)}

## Licences

Each row is bound by the licence of the editor that made it and of its source image. hilite records
what the model registry and the records name; "unknown" means nothing was recorded.

| editor | licence | what it allows |
|---|---|---|
{editors or "| (none) | | |"}

| source licence | records | what it allows |
|---|---|---|
{sources or "| (none) | | |"}
"""


def write_card(root: Path, spec: CardSpec, summary: ExportSummary) -> None:
    """Write `root/README.md` atomically (after the data, so it counts what was written)."""
    with AtomicFile(root / CARD) as fh:
        fh.write(render_card(spec, summary).encode("utf-8"))


def file_card_path(path: Path) -> Path:
    """A file export's card sits beside it as `<stem>.README.md` (a folder's README.md may be the user's)."""
    return path.with_name(f"{path.stem}.README.md")


def write_file_card(path: Path, spec: CardSpec, summary: ExportSummary) -> None:
    with AtomicFile(file_card_path(path)) as fh:
        fh.write(render_card(spec, summary).encode("utf-8"))
