"""configs/models.toml -> validated `ModelSpec`s, and the knob resolution every adapter shares.

HILITE's text and image influence are LEVELS on one scale shared by every model (0..`levels`, equal
steps); each model's `[scale]` table says where level 0 and the top level land on its own native
argument. `--param MODEL.ARG=VALUE` sets a native value directly, inside the same documented range.
"""

from __future__ import annotations

from typing import Any

from hilite_cli.config import load_config
from hilite_cli.models.base import KNOBS, LevelRange, ModelSpec
from hilite_cli.records import RecordError

INFLUENCE_KNOBS: tuple[str, ...] = ("text_influence", "image_influence")


def load_registry() -> dict[str, ModelSpec]:
    """Every registered model by name, in the order configs/models.toml lists them; the listed hosted
    models ([hosted]) last."""
    from hilite_cli.models.hosted import hosted_specs

    tables = load_config("models").get("models", {})
    registry = {name: ModelSpec(name=name, **table) for name, table in tables.items()}
    return registry | {spec.name: spec for spec in hosted_specs()}


def is_registered(name: str) -> bool:
    """A name `get_spec` resolves: a registry entry, or any MODEL under a hosted prefix (gemini-image:MODEL)."""
    from hilite_cli.models.hosted import is_hosted

    return name in load_registry() or is_hosted(name)


def scale_levels() -> int:
    """The top level of the shared influence scale (configs/models.toml [scale].levels)."""
    return int(load_config("models").get("scale", {}).get("levels", 10))


def get_spec(name: str) -> ModelSpec:
    """The spec for `name`, or a RecordError listing the registered names."""
    from hilite_cli.models.hosted import hosted_spec

    registry = load_registry()
    if name in registry:
        return registry[name]
    spec = hosted_spec(name)
    if spec is None:
        raise RecordError("unknown_model", f"unknown model {name!r}; registered: {', '.join(registry)} "
                          "(hosted: gemini-image:MODEL, openai-image:MODEL)")
    return spec


def level_to_native(rng: LevelRange, level: float, levels: int) -> float:
    """The native value at `level`: equal steps from level_0 (level 0) to level_10 (the top level)."""
    return round(rng.level_0 + (rng.level_10 - rng.level_0) * float(level) / levels, 6)


def native_to_level(rng: LevelRange, value: float, levels: int) -> float:
    """The (possibly fractional) level a native value sits at, so a model default still has a position."""
    span = rng.level_10 - rng.level_0
    return round(levels * (float(value) - rng.level_0) / span, 2) if span else 0.0


def native_args(spec: ModelSpec) -> dict[str, str]:
    """Native pipeline argument -> the HILITE knob it carries, for the knobs this model takes."""
    return {getattr(spec.knobs, knob): knob for knob in KNOBS if getattr(spec.knobs, knob)}


def check_level(knob: str, level: float | None, levels: int) -> None:
    """A level outside 0..levels is a usage error, the same for every model."""
    if level is not None and not 0 <= float(level) <= levels:
        raise RecordError("bad_params", f"--{knob.replace('_', '-')} is a level from 0 to {levels}, got {level}")


def _check_native(spec: ModelSpec, knob: str, arg: str, value: float) -> None:
    if knob == "steps":
        steps = spec.scale.steps
        if steps is not None and not steps.min <= int(value) <= steps.max:
            raise RecordError(
                "bad_params", f"{spec.name}: steps {int(value)} outside its documented {steps.min}..{steps.max} ({steps.source})"
            )
        if int(value) < 1 or int(value) != float(value):
            raise RecordError("bad_params", f"{spec.name}: {arg} must be a whole number >= 1, got {value}")
        return
    rng: LevelRange = getattr(spec.scale, knob)
    lo, hi = rng.bounds
    if not lo <= float(value) <= hi:
        raise RecordError("bad_params", f"{spec.name}: {arg}={value} outside its range {lo:g}..{hi:g} ({rng.source})")


def effective_params(spec: ModelSpec, params: dict[str, Any] | None) -> dict[str, Any]:
    """The knobs a run really uses: {steps, text_influence, image_influence} as levels, plus `native`.

    Input: levels (or None for the model default) and optionally `native: {arg: value}` overrides
    (--param), which win over a level. Output: each applicable knob's level (a default's position on
    the scale, maybe fractional), None where the knob does not apply, and `native` = exactly the
    values sent to the pipeline. Applying it to its own output gives the same result.
    """
    params = dict(params or {})
    overrides = dict(params.pop("native", None) or {})
    params.pop("note", None)
    unknown = set(params) - set(KNOBS)
    if unknown:
        raise RecordError("bad_params", f"unknown params {sorted(unknown)}; knobs are {list(KNOBS)}")
    by_arg = native_args(spec)
    stray = set(overrides) - set(by_arg)
    if stray:
        raise RecordError(
            "bad_params", f"{spec.name}: no native parameter {', '.join(sorted(stray))}; it takes {', '.join(by_arg) or 'none'}"
        )
    levels = scale_levels()
    out: dict[str, Any] = {}
    native: dict[str, Any] = {}
    for knob in KNOBS:
        arg = getattr(spec.knobs, knob)
        if not arg:
            out[knob] = None
            continue
        given = params.get(knob)
        if knob == "steps":
            value = overrides.get(arg, given if given is not None else spec.defaults.steps)
            if value is None:
                out[knob] = None
                continue
            _check_native(spec, knob, arg, value)
            out[knob] = native[arg] = int(value)
            continue
        rng: LevelRange = getattr(spec.scale, knob)
        if arg in overrides:
            value = float(overrides[arg])
        elif given is not None:
            check_level(knob, given, levels)
            value = level_to_native(rng, given, levels)
        else:
            value = getattr(spec.defaults, knob)
        if value is None:
            out[knob] = None
            continue
        _check_native(spec, knob, arg, value)
        native[arg] = round(float(value), 6)
        out[knob] = float(given) if given is not None and arg not in overrides else native_to_level(rng, value, levels)
    out["native"] = native
    return out


def call_kwargs(spec: ModelSpec, params: dict[str, Any] | None) -> dict[str, Any]:
    """The pipeline __call__ arguments: the spec's fixed `call` table plus the knobs' native values.

    The one place knobs become pipeline arguments, so tests can assert exactly what reaches the call.
    """
    return dict(spec.call) | effective_params(spec, params)["native"]


def attempts_for(spec: ModelSpec, attempts: int) -> int:
    """Attempts worth running: one for a model whose every seed gives the same image, else all of them."""
    return 1 if spec.deterministic else attempts
