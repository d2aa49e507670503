"""configs/models.toml -> validated `ModelSpec`s, and the knob resolution every adapter shares."""

from __future__ import annotations

from typing import Any

from hilite_cli.config import load_config
from hilite_cli.models.base import KNOBS, ModelSpec
from hilite_cli.records import RecordError


def load_registry() -> dict[str, ModelSpec]:
    """Every registered model by name, in the order configs/models.toml lists them."""
    tables = load_config("models").get("models", {})
    return {name: ModelSpec(name=name, **table) for name, table in tables.items()}


def get_spec(name: str) -> ModelSpec:
    """The spec for `name`, or a RecordError listing the registered names."""
    registry = load_registry()
    if name not in registry:
        raise RecordError("unknown_model", f"unknown model {name!r}; registered: {', '.join(registry)}")
    return registry[name]


def effective_params(spec: ModelSpec, params: dict[str, Any] | None) -> dict[str, Any]:
    """The knob values a run really uses: given value, else the model default; None where n/a.

    Stages record these in candidate `params`, so a record never claims a knob the model ignored.
    """
    params = params or {}
    unknown = set(params) - set(KNOBS)
    if unknown:
        raise RecordError("bad_params", f"unknown params {sorted(unknown)}; knobs are {list(KNOBS)}")
    out: dict[str, Any] = {}
    for knob in KNOBS:
        if not getattr(spec.knobs, knob):
            out[knob] = None
            continue
        value = params.get(knob)
        out[knob] = value if value is not None else getattr(spec.defaults, knob)
    return out


def call_kwargs(spec: ModelSpec, params: dict[str, Any] | None) -> dict[str, Any]:
    """The pipeline __call__ arguments the HILITE knobs and the spec's fixed `call` table produce.

    The one place knobs become pipeline arguments, so tests can assert exactly what reaches the call.
    A target written "1-arg" receives 1 - value (HILITE's image influence = how much to keep).
    """
    kwargs = dict(spec.call)
    for knob, value in effective_params(spec, params).items():
        target = getattr(spec.knobs, knob)
        if not target or value is None:
            continue
        if target.startswith("1-"):
            kwargs[target[2:]] = 1.0 - float(value)
        else:
            kwargs[target] = int(value) if knob == "steps" else float(value)
    return kwargs
