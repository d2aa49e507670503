"""Algorithm 1 (SamplesPromptsDesign): ask a designer model with prompt A.1 for prompt specs, and
check each one before any GPU time is spent on it.

A.1 asks for 1-5 named objects with one deletion edit each and, when a prompt names 2 or more, a
last *composite* edit listing them all. The appendix is ambiguous about whether the composite is
one of the per-object lines (its "edits length = number of named objects") or an extra one (Listing
1 has 5 objects and 6 edits), so both are accepted: 1-6 distinct edits. Objects are not parsed;
the composite rule is checked by words: the last edit must share a content word with every other
edit ("cereal" for "Remove the cereal bowl", as in Listing 1) and name more than any one of them.
"""

from __future__ import annotations

import math
import re
from typing import Any

from hilite_cli.prompts import prompt_version, render_prompt
from hilite_cli.providers import Ask, Provider
from hilite_cli.records import Record, RecordError, stable_id, with_error

MAX_OBJECTS = 5
STAGE = "mine.design"

# Words that name no object: articles, deletion verbs, fillers, politeness and spatial glue.
_NOT_OBJECTS = frozenset(
    """
    a an the this that these those it its them their there here of in on at to from by with without into onto
    over under above below behind near next beside between and or but nor so also too please thanks thank
    you your me my our just only all both every each any some one two three four five remove removes removing
    delete erase eliminate get got rid lose ditch drop yeet take out away off clear wipe scrub cut kill axe
    no not nothing more less should be is are was make let have need want gotta now then
    """.split()
)
_WORD = re.compile(r"[a-z][a-z'-]*")


def spec_id(t2i_prompt: str, edits: list[str]) -> str:
    """A prompt spec is defined by its T2I prompt and edits."""
    return stable_id("prompt_spec", t2i_prompt, edits)


def _singular(word: str) -> str:
    """A rough English singular, enough to match "benches" with "bench" and "puppies" with "puppy"."""
    if len(word) > 4 and word.endswith(("ches", "shes", "xes", "sses", "zes")):
        return word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def content_words(text: str) -> set[str]:
    """Lower-case words that may name an object, in singular form."""
    words = {w.strip("'-") for w in _WORD.findall(text.lower())}
    return {_singular(w) for w in words if w} - _NOT_OBJECTS


def composite_problem(edits: list[str]) -> str | None:
    """Why the last edit is not a composite deletion of the others, or None when it is (or need not be)."""
    if len(edits) < 2:
        return None
    last = content_words(edits[-1])
    missing = [e for e in edits[:-1] if not content_words(e) & last]
    if missing:
        return f"the last edit {edits[-1]!r} must list every object again; it does not mention {missing[0]!r}"
    if any(last <= content_words(e) for e in edits[:-1]):
        return f"the last edit {edits[-1]!r} names only one object; with 2+ objects it must list them all"
    return None


def validate_spec(item: Any) -> Record:
    """A prompt spec record from one designer item `{prompt, edits}`, or RecordError("invalid_spec")."""
    if not isinstance(item, dict):
        raise RecordError("invalid_spec", f"expected an object {{prompt, edits}}, got {type(item).__name__}")
    prompt = item.get("prompt", item.get("t2i_prompt"))
    edits = item.get("edits")
    if not isinstance(prompt, str) or not prompt.strip():
        raise RecordError("invalid_spec", "`prompt` must be a non-empty string")
    if not isinstance(edits, list) or not all(isinstance(e, str) and e.strip() for e in edits):
        raise RecordError("invalid_spec", "`edits` must be a list of non-empty strings")
    edits = [e.strip() for e in edits]
    if not 1 <= len(edits) <= MAX_OBJECTS + 1:
        raise RecordError("invalid_spec", f"`edits` must hold 1-{MAX_OBJECTS} object deletions (+1 composite), got {len(edits)}")
    if len(set(edits)) != len(edits):
        raise RecordError("invalid_spec", "`edits` repeats an instruction")
    if problem := composite_problem(edits):
        raise RecordError("invalid_spec", f"composite-deletion rule: {problem}")
    prompt = prompt.strip()
    return {"id": spec_id(prompt, edits), "t2i_prompt": prompt, "edits": edits}


def design_asks(count: int, batch: int, theme: str, max_output_tokens: int) -> list[Ask]:
    """ceil(count / batch) A.1 requests; the last asks only for what is still missing.

    The batches share one prompt, so each carries its own cache salt: otherwise they would share one
    cached reply (one distinct batch), while a re-run of the same command must still hit the cache.
    """
    sizes = [min(batch, count - i * batch) for i in range(math.ceil(count / batch))]
    return [
        Ask(
            prompt=render_prompt("a1_design", batch_size=n, theme=theme),
            expect="json",
            max_output_tokens=max_output_tokens,
            cache_salt=f"design-batch-{i}",
        )
        for i, n in enumerate(sizes)
    ]


def design_specs(
    provider: Provider, *, count: int, batch: int, theme: str, max_output_tokens: int
) -> tuple[list[Record], list[Record]]:
    """Up to `count` valid prompt specs, and one error record per invalid item or failed request."""
    specs: dict[str, Record] = {}
    errors: list[Record] = []
    provenance = {"provider": provider.name, "model": provider.model, "prompt": f"a1_design@{prompt_version('a1_design')}"}
    for n, answer in enumerate(provider.ask_many(design_asks(count, batch, theme, max_output_tokens))):
        if answer.status != "ok" or not isinstance(answer.value, list):
            why = answer.reason or f"expected a JSON array, got {type(answer.value).__name__}"
            failed = {"id": stable_id("design_batch", n, answer.raw), "raw": answer.raw}
            errors.append(with_error(failed, STAGE, f"design_{answer.status}", why))
            continue
        for i, item in enumerate(answer.value):
            try:
                spec = validate_spec(item)
            except RecordError as exc:
                record = {"id": stable_id("design_item", item), "item": item, "batch": n, "index": i}
                errors.append(with_error(record, STAGE, exc.kind, exc.message))
                continue
            specs.setdefault(spec["id"], {**spec, "designer": provenance})
    return list(specs.values())[:count], errors

