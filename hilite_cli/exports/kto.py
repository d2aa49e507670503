"""KTO export (NHR 2.3): every scored candidate, labelled good when both scores clear the thresholds
and the filter that judged it did not reject it (`passed`, when the record carries it).

KTO learns from unpaired good/bad examples, so nothing is filtered by quality: a candidate that
fails the hard filter is exactly the "bad" example KTO needs. Only candidates lacking a score are
left out (a missing score is not a failure), and they are counted. Scores alone are not enough:
validate and mine also reject for failed checks (unwanted changes, low-level), so a record with
`passed` other than true is a bad example whatever its scores.

What the file trains: a vision-language model (a judge) with `trl.KTOTrainer`, in TRL's unpaired
preference format with images: `images` = [original, edited] (paths relative to the file; cast to
`Sequence(Image())` on load), `prompt` = one user turn with two image placeholders and the question
"is this a good edit?" (prompt `pref_single`), `completion` = the assistant answer "yes", and `label`
= whether that answer is desirable, i.e. whether the edit is good. The model learns to say yes to good
edits only. It does not train an image editor (TRL's trainers generate text); the edit's path,
scores, thresholds and provenance (a JSON string) ride along for other uses.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from hilite_cli.config import load_config
from hilite_cli.exports.card import ALL_SCORED, CardSpec, write_file_card
from hilite_cli.exports.common import ExportSummary, dumps, provenance, readable_records, scored_edits, write_jsonl
from hilite_cli.prompts import prompt_version, render_prompt
from hilite_cli.records import Record

PROMPT = "pref_single"
ANSWER = "yes"
CARD = CardSpec(
    title="Good and bad edits for a vision judge, TRL KTO format (hilite kto export)",
    purpose="Trains a vision-language model to say yes to good edits only, with `trl.KTOTrainer` (a VLM and its "
    "processor): TRL's unpaired preference format with images. It does not train an image editor.",
    load='import datasets\nds = datasets.load_dataset("json", data_files="<this file>", split="train")\n'
    'ds = ds.cast_column("images", datasets.Sequence(datasets.Image()))  # paths relative to the file: run from its folder',
    columns={
        "images": "[original, edited]: the two images the prompt's placeholders refer to, in order",
        "prompt": "user turn: two image placeholders and the question (prompt `pref_single`)",
        "completion": "assistant turn \"yes\" (the edit is good)",
        "label": "true when the completion is desirable: both scores reach the thresholds and the record was not rejected",
        "source": "path of the original image",
        "edited": "path of the edited image",
        "instruction": "the edit instruction",
        "scores": "{instruction, aesthetics, geometric}: the judge's 1-5 scores",
        "thresholds": "{aesthetics, instruction} the label used",
        "prompt_version": "hash of the `pref_single` prompt text",
        "provenance": "JSON string: ids, editor, seed, params, judge block, checks, licences",
    },
    task="image-text-to-text",
    takes=ALL_SCORED,
)


def judge_turns(instruction: str) -> dict[str, Any]:
    """TRL's conversational prompt and completion for one edit."""
    return {
        "prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "image"},
                                                 {"type": "text", "text": render_prompt(PROMPT, instruction=instruction)}]}],
        "completion": [{"role": "assistant", "content": [{"type": "text", "text": ANSWER}]}],
    }


def kto_rows(
    scored: Iterable[Record], *, t_aes: float, t_adh: float, stats: Counter[str] | None = None
) -> Iterator[dict[str, Any]]:
    """One row per candidate with both scores; `stats` counts what was skipped and why."""
    stats = stats if stats is not None else Counter()
    version = prompt_version(PROMPT)
    for edit in scored_edits(scored, stats):
        record = edit.record
        assert edit.adherence is not None and edit.aesthetics is not None
        accepted = "passed" not in record or record["passed"] is True
        good = accepted and edit.aesthetics >= t_aes and edit.adherence >= t_adh
        stats["good" if good else "bad"] += 1
        yield {
            "id": record.get("id"),
            "images": [edit.source, edit.edited],
            **judge_turns(edit.instruction),
            "label": good,
            "source": edit.source,
            "edited": edit.edited,
            "instruction": edit.instruction,
            "scores": edit.scores,
            "thresholds": {"aesthetics": t_aes, "instruction": t_adh},
            "prompt_version": version,
            "provenance": dumps(provenance(record)).decode(),
        }


def write_kto(
    scored: Iterable[Record],
    path: str | os.PathLike[str],
    *,
    t_aes: float | None = None,
    t_adh: float | None = None,
) -> ExportSummary:
    """Write KTO rows to a JSONL file; thresholds default to `configs/thresholds.toml` [validate]."""
    defaults = load_config("thresholds")["validate"]
    stats: Counter[str] = Counter()
    summary = ExportSummary(format="kto", target=str(path))
    rows = kto_rows(
        readable_records(scored, summary),
        t_aes=defaults["t_aes"] if t_aes is None else t_aes,
        t_adh=defaults["t_adh"] if t_adh is None else t_adh,
        stats=stats,
    )
    summary.written = write_jsonl(rows, path, path_fields=("images", "source", "edited"))
    summary.take_stats(stats, counted=("good", "bad"))
    write_file_card(Path(path), CARD, summary)
    return summary
