"""One session step through the real stages: route (intent + per-model prompts), then edit.

The studio's worker and `hilite edit --session` both come here, so a step made in the terminal and
one made in the browser are the same record. Candidates are dealt to slots in a fresh random order
(HILITE shows outputs randomised, model names hidden) and their images land in the store.
"""

from __future__ import annotations

import random
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hilite_cli.records import Record
from hilite_cli.store import sessions
from hilite_cli.store.db import Store, StoreError

Progress = Callable[[str, int, int], None]
KNOBS = ("steps", "text_influence", "image_influence")


def _quiet(message: str, done: int, total: int) -> None:
    """No progress reporting."""


class LoadedEditors:
    """Editors kept loaded for a long-lived process (the studio): each Run reuses the pipelines an
    earlier Run loaded, as the edit stage does across the records of one manifest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: dict[tuple[str, str], Any] = {}

    def __call__(self, name: str, **kwargs: Any) -> Any:
        from hilite_cli.models.loader import load_model

        key = (name, repr(sorted(kwargs.items())))
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = load_model(name, **kwargs)
            return self._loaded[key]

    def names(self) -> list[str]:
        with self._lock:
            return sorted(name for name, _ in self._loaded)


def task_record(store: Store, image: str, instruction: str, *, reference: str | None = None,
                mask: str | None = None, reference_mask: str | None = None) -> Record:
    from hilite_cli.core import stable_id

    task: Record = {"image": str(store.blobs.path(image)), "instruction": instruction}
    for field, blob in (("reference_image", reference), ("mask", mask), ("reference_mask", reference_mask)):
        if blob:
            task[field] = str(store.blobs.path(blob))
    return {"id": stable_id(task), **task}


def route_one(task: Record, provider: str = "offline", *, top_k: int | None = None, base_url: str | None = None,
              max_retries: int | None = None) -> Record:
    """The router on one task in this process: the routed record, or the task with `error` set.
    Shared by the studio and `hilite edit IMG "…"`, which each report a failure their own way."""
    from hilite_cli.engine.local import run_batch
    from hilite_cli.stages.route import RouteStage

    stage = RouteStage(provider, top_k=top_k, base_url=base_url, max_retries=max_retries)
    stage.setup()
    try:
        [routed] = run_batch(stage, [(1, task)])
    finally:
        stage.teardown()
    return routed


def translate(task: Record, *, provider: str = "offline", base_url: str | None = None) -> Record:
    """HILITE's intent detection on one task: the routed record, or StoreError with the router's reason."""
    routed = route_one(task, provider, base_url=base_url)
    if routed.get("error"):
        raise StoreError(f"routing failed: {routed['error']['message']}")
    return routed


def chosen_models(routed: Record, models: list[str] | None, top_k: int | None,
                  unavailable: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """As `hilite edit` does: --models filters the routed ranking, else the editors that cannot run
    here (`unavailable`, {name: why}) are left out; then --top-k keeps the best K."""
    from hilite_cli.models.hosted import is_hosted

    entries = sorted(routed["models"], key=lambda m: m["rank"])
    if models:
        routed_names = {m["name"] for m in entries}
        entries = [m for m in entries if m["name"] in models]
        # Routing never ranks paid (hosted) editors: named in --models, they run after the routed ones.
        entries += [{"name": name, "rank": len(routed_names) + i + 1}
                    for i, name in enumerate(n for n in models if n not in routed_names and is_hosted(n))]
    elif unavailable:
        runnable = [m for m in entries if m["name"] not in unavailable]
        if entries and not runnable:
            raise StoreError(f"none of the {len(entries)} routed editors can run here; see `hilite models --check`")
        entries = runnable
    entries = entries[:top_k] if top_k else entries
    if not entries:
        raise StoreError("none of the routed models can run this task" + (f" (among {', '.join(models)})" if models else ""))
    return entries


def route_summary(routed: Record, entries: list[dict[str, Any]]) -> dict[str, Any]:
    keep = ("name", "prompt", "source_prompt", "target_prompt", "rank")
    return {"intent": routed["intent"], "router": routed.get("router"),
            "models": [{k: m.get(k) for k in keep if m.get(k) is not None} for m in entries]}


def candidate_entry(store: Store, candidate: Record, slot: str) -> dict[str, Any]:
    return {"slot": slot, "candidate": candidate["id"], "model": candidate["model"], "seed": candidate["seed"],
            "prompt": candidate.get("prompt"), "params": candidate.get("params"),
            "image": store.blobs.adopt(candidate["output"])}


def run_step(store: Store, name: str, instruction: str, knobs: dict[str, Any], *, reference: str | None = None,
             mask: str | None = None, reference_mask: str | None = None, models: list[str] | None = None,
             top_k: int | None = None, seeds: int = 1, provider: str = "offline", base_url: str | None = None,
             progress: Progress = _quiet, rng: random.Random | None = None,
             loader: LoadedEditors | None = None, weights: dict[str, Path] | None = None,
             unavailable: dict[str, str] | None = None) -> dict[str, Any]:
    """Route and edit from the session's current image; the step is stored `ready` (or `failed`, with why).
    The route keeps the error kind of each editor that failed (`failed`), so a page can say how many
    failed and why before the pick names them."""
    from hilite_cli.engine.local import run_batch
    from hilite_cli.stages.edit import EditStage, slot_letters

    unknown = set(knobs) - set(KNOBS)
    if unknown:
        raise StoreError(f"unknown knob(s) {sorted(unknown)}; knobs are {', '.join(KNOBS)}")
    image, _ = sessions.current_image(store, name)
    task = task_record(store, image, instruction, reference=reference, mask=mask, reference_mask=reference_mask)
    step = sessions.start_step(store, name, input_image=image, instruction=instruction, knobs=knobs,
                               reference_image=reference, mask=mask, reference_mask=reference_mask)
    try:
        progress("translating", 0, 1)
        routed = translate(task, provider=provider, base_url=base_url)
        entries = chosen_models(routed, models, top_k, unavailable)
        stage = EditStage(out_dir=store.blobs.folder, seeds=seeds, shuffle=False, weights=weights,
                          **({"loader": loader} if loader else {}), **{k: knobs.get(k) for k in KNOBS})
        candidates: list[Record] = []
        errors: list[str] = []
        kinds: list[str] = []
        stage.setup()
        try:
            for done, entry in enumerate(entries):
                progress("editing", done, len(entries))
                for out in run_batch(stage, [(1, {**routed, "models": [entry]})]):
                    if out.get("error"):
                        errors.append(f"model {done + 1}: {out['error']['message']}")
                        kinds.append(out["error"]["kind"])
                    else:
                        candidates.append(out)
        finally:
            stage.teardown()
        (rng or secrets.SystemRandom()).shuffle(candidates)
        slots = [candidate_entry(store, c, s) for c, s in zip(candidates, slot_letters(len(candidates)), strict=True)]
        route = route_summary(routed, entries) | ({"failed": kinds} if kinds else {})
        sessions.finish_step(store, step["id"], route=route, candidates=slots, error="; ".join(errors) or None)
        progress("done", len(entries), len(entries))
    except (StoreError, ValueError) as exc:
        sessions.fail_step(store, step["id"], str(exc))
    except Exception as exc:  # anything else still ends the step, with the reason, never left `running`
        sessions.fail_step(store, step["id"], f"{type(exc).__name__}: {exc}")
        raise
    return sessions.get_step(store, step["id"])


def replay(store: Store, publication: dict[str, Any], image: str, name: str, *, progress: Progress = _quiet,
           seeds: int = 1, loader: LoadedEditors | None = None,
           weights: dict[str, Path] | None = None) -> dict[str, Any]:
    """Run a published workflow on a new image: each step's instruction and knobs on the same model,
    keeping that model's candidate, as HILITE's gallery lets users replicate others' work."""
    sessions.create_session(store, name, image)
    for i, flow in enumerate(publication["workflow"]):
        progress(f"step {i + 1}/{len(publication['workflow'])}", i, len(publication["workflow"]))
        step = run_step(store, name, flow["instruction"], flow["knobs"], models=[flow["model"]], seeds=seeds,
                        loader=loader, weights=weights)
        if step["status"] != "ready":
            raise StoreError(f"replay step {i + 1} failed: {step['error']}")
        sessions.pick(store, step["id"], step["candidates"][0]["slot"], {})
    return sessions.get_session(store, name)
