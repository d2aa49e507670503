"""`route`: HILITE's intent detection (III-B) — a task gets an intent, a ranked model list, and prompts.

With an LLM provider, one call per task (the route prompt + the image, JSON schema RouteDecision);
a non-ok answer is the record's error, never a silent fall-back to rules. With the offline
provider (the default), keyword rules decide and the record says so (`router.model = "rules"`).
Rankings come from configs/routing.toml; names, `kind`, `needs`, `prompt_style` from configs/models.toml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hilite_cli.config import load_config
from hilite_cli.prompts import prompt_version, render_prompt
from hilite_cli.providers import Ask, Provider, get_provider, parse_spec
from hilite_cli.providers.schemas import INTENTS, RouteDecision
from hilite_cli.records import Record, RecordError, Task, validate_as, with_error
from hilite_cli.stages.base import Stage
from hilite_cli.stages.route_rules import RULES_VERSION, rule_decision

PROMPT_STYLES = ("instruction", "target", "source_target", "none")


def load_routing(models: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """configs/routing.toml, checked against the model registry so a typo fails before the first record."""
    routing = load_config("routing")
    ranking: dict[str, list[str]] = routing.get("ranking", {})
    missing_intents = set(INTENTS) - ranking.keys()
    if missing_intents:
        raise ValueError(f"configs/routing.toml: [ranking] lacks {sorted(missing_intents)}")
    for intent, names in ranking.items():
        if intent not in INTENTS:
            raise ValueError(f"configs/routing.toml: unknown intent `{intent}`; known: {', '.join(INTENTS)}")
        unknown = [n for n in names if n not in models]
        if unknown:
            raise ValueError(f"configs/routing.toml: [ranking].{intent} names unregistered models {unknown}")
    for name, spec in models.items():
        if spec.get("prompt_style", "instruction") not in PROMPT_STYLES:
            raise ValueError(f"configs/models.toml: `{name}` has prompt_style {spec.get('prompt_style')!r}")
    return routing


def skipped_models(intent: str, task: Task, routing: dict[str, Any], models: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """The intent's models left out for inputs the task lacks, each with why (the record says so, not silence)."""
    skipped = []
    for name in routing["ranking"][intent]:
        spec = models[name]
        missing = [need for need in spec.get("needs", []) if getattr(task, need, None) is None]
        if spec.get("kind") != "t2i" and missing:
            why = spec.get("needs_note") or ""
            reason = f"needs {', '.join(f'`{m}`' for m in missing)}, which the task lacks" + (f": {why}" if why else "")
            skipped.append({"name": name, "reason": reason})
    return skipped


def ranked_models(intent: str, task: Task, decision: RouteDecision, routing: dict[str, Any],
                  models: dict[str, dict[str, Any]], top_k: int | None) -> list[dict[str, Any]]:
    """The intent's ranking, minus models whose `needs` the task lacks, with each model's prompt(s)."""
    entries: list[dict[str, Any]] = []
    for name in routing["ranking"][intent]:
        spec = models[name]
        if spec.get("kind") == "t2i" or any(getattr(task, need, None) is None for need in spec.get("needs", [])):
            continue
        entry: dict[str, Any] = {"name": name, "prompt": None}
        style = spec.get("prompt_style", "instruction")
        if style == "instruction":
            entry["prompt"] = decision.instruction_prompt
        elif style == "target":
            entry["prompt"] = decision.target_prompt
        elif style == "source_target":
            entry |= {"source_prompt": decision.source_prompt, "target_prompt": decision.target_prompt}
        entry["rank"] = len(entries) + 1
        entries.append(entry)
        if top_k and len(entries) == top_k:
            break
    if not entries:
        raise RecordError("no_models", f"no registered model can do `{intent}` with the inputs this task carries")
    return entries


class RouteStage(Stage):
    """Task records -> route records (the task plus `intent`, `models`, `router`)."""

    name = "route"
    batch_size = 16

    def __init__(self, provider: str = "offline", *, top_k: int | None = None, base_url: str | None = None,
                 concurrency: int | None = None, timeout: float | None = None, max_retries: int | None = None,
                 cache_path: Path | None = None, use_cache: bool = True) -> None:
        self.backend, _ = parse_spec(provider)
        # A batch is what is in flight at once: never fewer tasks than the calls allowed concurrently.
        self.batch_size = max(type(self).batch_size, concurrency or 0)
        self.spec = provider
        self.top_k = top_k
        self.provider_options = {"base_url": base_url, "concurrency": concurrency, "timeout": timeout,
                                 "max_retries": max_retries, "cache_path": cache_path, "use_cache": use_cache}
        self.provider: Provider | None = None
        self.models: dict[str, dict[str, Any]] = {}
        self.routing: dict[str, Any] = {}

    def setup(self) -> None:
        self.models = load_config("models").get("models", {})
        self.routing = load_routing(self.models)
        if self.top_k is None:
            self.top_k = int(self.routing.get("route", {}).get("top_k", 0)) or None
        if self.backend != "offline":
            self.provider = get_provider(self.spec, **self.provider_options)

    def __call__(self, batch: list[Record]) -> list[Record]:
        tasks: list[Task | RecordError] = []
        for record in batch:
            try:
                tasks.append(validate_as(Task, record))
            except RecordError as exc:
                tasks.append(exc)
        decisions = self._decide([t for t in tasks if isinstance(t, Task)])
        out: list[Record] = []
        for record, task in zip(batch, tasks, strict=True):
            try:
                if isinstance(task, RecordError):
                    raise task
                decision, router = decisions.pop(0)
                if isinstance(decision, RecordError):
                    raise decision
                models = ranked_models(decision.intent, task, decision, self.routing, self.models, self.top_k)
                routed = {**record, "intent": decision.intent, "models": models, "router": router}
                skipped = skipped_models(decision.intent, task, self.routing, self.models)
                out.append(routed | {"skipped": skipped} if skipped else routed)
            except RecordError as exc:
                if len(batch) == 1:
                    raise
                out.append(with_error(record, self.name, exc.kind, exc.message))
        return out

    def teardown(self) -> None:
        if self.provider is not None:
            self.provider.close()
            self.provider = None

    def _decide(self, tasks: list[Task]) -> list[tuple[RouteDecision | RecordError, dict[str, Any]]]:
        """One decision per task: rules offline, else one LLM call per task (concurrently)."""
        if self.provider is None:
            router = {"provider": "offline", "model": "rules", "prompt_version": RULES_VERSION}
            return [(rule_decision(t.instruction, self.routing["rules"]), router) for t in tasks]
        router = {
            "provider": self.provider.name, "model": self.provider.model, "prompt_version": prompt_version("route")
        }
        asks: list[Ask | RecordError] = []
        for task in tasks:
            try:
                asks.append(Ask(prompt=render_prompt("route", instruction=task.instruction),
                                images=[_image_bytes(task.image)], expect="json", schema=RouteDecision))
            except RecordError as exc:
                asks.append(exc)
        answers = iter(self.provider.ask_many([a for a in asks if isinstance(a, Ask)]))
        decisions: list[tuple[RouteDecision | RecordError, dict[str, Any]]] = []
        for ask in asks:
            if isinstance(ask, RecordError):
                decisions.append((ask, router))
                continue
            answer = next(answers)
            if answer.status != "ok":
                decisions.append((RecordError(answer.status, f"router {self.spec}: {answer.reason}"), router))
            else:
                decisions.append((answer.value, router))
        return decisions


def _image_bytes(path: str) -> bytes:
    """The task image for the router, decoded and re-encoded (image_wire.sendable_bytes: no trailing bytes travel)."""
    from hilite_cli.image_wire import sendable_bytes
    from hilite_cli.images import ImageError

    try:
        return sendable_bytes(path)
    except ImageError as exc:
        raise RecordError(exc.kind, str(exc)) from None
