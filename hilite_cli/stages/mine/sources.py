"""Source images (Algorithm 2, lines 2-6): N seeded T2I generations per prompt at NHR 3.5's random
resolutions, or real photos, and the A.5 plausibility gate.

A source's id and size are fixed before it is generated (prompt, T2I model, seed, size, steps), so
a resumed run knows which sources exist and regenerates a missing one identically. The size is
drawn from a generator seeded by the prompt and seed, so a re-run draws the same sizes.

The gate is honest about what it could not judge: an answer `unavailable` (the offline provider)
means "gate not run" and the source is kept, recorded as such and counted loudly in the stats;
`--no-gate` records "skipped"; any other failed answer (HTTP error, block, unparsable) fails that
source with the reason. Real photos have no T2I prompt to check, so the gate does not apply.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

from hilite_cli.images import file_sha256
from hilite_cli.models.base import ModelSpec
from hilite_cli.models.t2i import random_resolution
from hilite_cli.prompts import prompt_version, render_prompt
from hilite_cli.providers import Answer, Ask, Provider
from hilite_cli.records import Record, stable_id

# Source outcomes whose jobs enter the queue.
USABLE = frozenset({"gated", "gate_not_run", "gate_skipped", "photo"})


@dataclass
class SourcePlan:
    """One source image to make (T2I) or use (photo), with every instruction any spec gave it."""

    id: str
    kind: Literal["t2i", "photo"]
    instructions: list[str]
    specs: list[str]
    t2i_prompt: str | None = None
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    image: str | None = None


def resolution_bounds(spec: ModelSpec, overrides: dict[str, Any]) -> dict[str, float]:
    """NHR 3.5 bounds from the T2I spec's options, overridden by the mining preset (tiny CI sizes)."""
    merged = {**spec.options, **{k: v for k, v in overrides.items() if v is not None}}
    return {
        "long_min": int(merged.get("long_side_min", 860)),
        "long_max": int(merged.get("long_side_max", 2200)),
        "max_aspect": float(merged.get("max_aspect", 6.0)),
    }


def t2i_source_id(model: str, prompt: str, seed: int, width: int, height: int, params: dict[str, Any]) -> str:
    return stable_id("t2i_source", model, prompt, seed, width, height, params)


def plan_sources(
    specs: list[Record],
    *,
    n_sources: int,
    t2i_spec: ModelSpec | None,
    bounds: dict[str, float],
    t2i_params: dict[str, Any],
) -> list[SourcePlan]:
    """Every source the specs call for, merged by id (two specs with one prompt share its sources)."""
    plans: dict[str, SourcePlan] = {}

    def add(plan: SourcePlan, spec: Record) -> None:
        known = plans.setdefault(plan.id, plan)
        known.instructions.extend(e for e in spec["edits"] if e not in known.instructions)
        if spec["id"] not in known.specs:
            known.specs.append(spec["id"])

    for spec in specs:
        if "image" in spec:
            sid = stable_id("photo_source", file_sha256(spec["image"]))
            add(SourcePlan(sid, "photo", [], [], image=spec["image"]), spec)
            continue
        if t2i_spec is None:
            raise ValueError("prompt specs need a T2I model")
        for seed in range(n_sources):
            rng = random.Random(stable_id("resolution", spec["t2i_prompt"], seed))
            width, height = random_resolution(rng, t2i_spec.multiple, **bounds)
            sid = t2i_source_id(t2i_spec.name, spec["t2i_prompt"], seed, width, height, t2i_params)
            add(SourcePlan(sid, "t2i", [], [], t2i_prompt=spec["t2i_prompt"], seed=seed, width=width, height=height), spec)
    return list(plans.values())


def gate_ask(prompt: str, png: bytes) -> Ask:
    """A.5: does the image depict the prompt, realistically and plausibly?"""
    return Ask(prompt=render_prompt("a5_t2i_check", prompt=prompt), images=[png], expect="yesno")


def gate_record(answer: Answer) -> Record:
    """What the gate said, kept on the source and its candidates."""
    return {
        "status": answer.status,
        "passed": answer.value if answer.status == "ok" else None,
        "provider": answer.provider,
        "model": answer.model,
        "prompt": f"a5_t2i_check@{prompt_version('a5_t2i_check')}",
        "raw": answer.raw,
        "reason": answer.reason,
        **({"tuned": answer.tuned} if answer.tuned else {}),  # a `tune-judge` model: its adapter or job
    }


def gate_source(provider: Provider | None, plan: SourcePlan, png: bytes) -> tuple[str, Record]:
    """(outcome, gate record) for one source; see the module docstring for what each outcome means."""
    if plan.kind == "photo":
        return "photo", {"status": "not_applicable", "passed": None, "reason": "real photo: no T2I prompt to check"}
    if provider is None:
        return "gate_skipped", {"status": "skipped", "passed": None, "reason": "--no-gate"}
    assert plan.t2i_prompt is not None
    return gate_outcome(gate_record(provider.ask(gate_ask(plan.t2i_prompt, png))))


def gate_outcome(gate: Record) -> tuple[str, Record]:
    """(outcome, gate record) from the A.5 answer's record."""
    if gate["status"] == "ok":
        return ("gated" if gate["passed"] else "rejected:gate"), gate
    if gate["status"] == "unavailable":
        return "gate_not_run", gate
    return f"failed:gate_{gate['status']}", gate
