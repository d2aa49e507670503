"""Parsing of option values shared by several commands."""

from __future__ import annotations

from pathlib import Path

import typer

from hilite_cli.cli.runner import usage_error


def parse_weights(values: list[str] | None) -> dict[str, Path]:
    """`["instruct-pix2pix=/w/ip2p", …]` → `{name: Path}`; a malformed entry or unknown name is a usage error."""
    weights: dict[str, Path] = {}
    for value in values or []:
        name, sep, folder = value.partition("=")
        if not sep or not name or not folder:
            raise usage_error(f"--weights expects NAME=DIR, got {value!r}")
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise usage_error(f"--weights {name}: {folder} is not a folder")
        weights[name.strip()] = path
    if weights:
        from hilite_cli.models.loader import check_weights

        try:
            check_weights(weights)
        except ValueError as exc:
            raise usage_error(str(exc)) from None
    return weights


def parse_native_params(values: list[str] | None) -> dict[str, dict[str, float]]:
    """`["instruct-pix2pix.image_guidance_scale=1.8", …]` → `{model: {argument: value}}` (--param)."""
    native: dict[str, dict[str, float]] = {}
    for value in values or []:
        key, sep, number = value.partition("=")
        model, dot, arg = key.strip().rpartition(".")
        if not sep or not dot or not model or not arg:
            raise usage_error(f"--param expects MODEL.NAME=VALUE (a native pipeline argument), got {value!r}")
        try:
            native.setdefault(model, {})[arg] = float(number)
        except ValueError:
            raise usage_error(f"--param {key}: {number!r} is not a number") from None
    return native


def check_model_options(device: str | None, dtype: str | None = None) -> None:
    """--device and --dtype checked once, before any output is opened (a raw torch error per record otherwise)."""
    from hilite_cli.models.loader import check_device, check_dtype

    try:
        check_dtype(dtype)
        check_device(device)
    except ValueError as exc:
        raise usage_error(str(exc)) from None


def parse_list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def provider_options(base_url: str | None, concurrency: int | None, timeout: float | None, max_retries: int | None,
                     no_cache: bool) -> dict[str, object]:
    """The `get_provider` keyword arguments the shared provider options produce."""
    return {"base_url": base_url, "concurrency": concurrency, "timeout": timeout, "max_retries": max_retries,
            "use_cache": not no_cache}


def batch_options(batch_api: bool, batch_wait: float | None, output: str, stage: str) -> dict[str, object]:
    """The `get_provider` keyword arguments of `--batch-api`: the job ledger beside the output
    (`<output>.batches.jsonl`, or `hilite-<stage>.batches.jsonl` when writing to stdout) and the wait."""
    if not batch_api:
        return {}
    state = Path(f"{output}.batches.jsonl" if output != "-" else f"hilite-{stage}.batches.jsonl")
    return {"batch_state": state, "batch_wait": batch_wait}


def use_batch_api(stage: object, options: dict[str, object], option: str, spec: str) -> None:
    """Give `stage` the batch options and records enough per `ask_many` to fill a batch job
    (configs/providers.toml [batch] records_per_job); no-op without `--batch-api`."""
    if not options:
        return
    per_job = batch_records_per_job(option, spec)
    stage.batch_size = max(int(getattr(stage, "batch_size", 1)), per_job)  # type: ignore[attr-defined]
    stage.provider_options = {**(getattr(stage, "provider_options", None) or {}), **options}  # type: ignore[attr-defined]


def batch_records_per_job(option: str, spec: str) -> int:
    """Records to hand one `ask_many` under `--batch-api` (configs/providers.toml [batch] records_per_job);
    a usage error for a provider without a batch API."""
    from hilite_cli.providers import BATCH_BACKENDS, parse_spec

    if parse_spec(spec)[0] not in BATCH_BACKENDS:
        raise usage_error(f"--batch-api needs a gemini or openai provider, but {option} is {spec}")
    return records_per_job()


def records_per_job() -> int:
    """Requests packed into one batch job (configs/providers.toml [batch] records_per_job)."""
    from hilite_cli.config import load_config
    from hilite_cli.providers.batch.runner import BatchSettings

    return int(BatchSettings.from_config(load_config("providers").get("batch", {})).records_per_job)


def provider_error(option: str, spec: str, exc: Exception, base_url_option: str = "--base-url",
                   fallback: str | None = None) -> typer.Exit:
    """The usage error for a provider that cannot be built, worded with this command's own flags.

    `fallback` is the way to run without a model, as this command takes it; by default `OPTION offline`,
    and "" where the command cannot run without one (then no fallback is offered).
    """
    from hilite_cli.providers import MissingKeyError

    if isinstance(exc, MissingKeyError):
        reason = exc.advice(base_url_option, f"pass {option} offline to run without a language model"
                            if fallback is None else fallback)
    else:
        reason = str(exc)
    return usage_error(f"{option} {spec}: {reason}")


def check_provider(option: str, spec: str, base_url: str | None, base_url_option: str = "--base-url",
                   fallback: str | None = None) -> None:
    """Build the provider once, before any output is opened: a missing key or an unknown backend stops the
    command with nothing written, in words that name the flag to change. Building loads no model."""
    from hilite_cli.providers import ProviderConfigError, get_provider

    try:
        get_provider(spec, base_url=base_url, use_cache=False).close()
    except ProviderConfigError as exc:
        raise provider_error(option, spec, exc, base_url_option, fallback) from None
