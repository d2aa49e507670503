"""Text/vision language-model backends behind one interface, chosen by `PROVIDER[:MODEL]`.

    provider = get_provider("gemini:gemini-2.5-flash")
    answer = provider.ask(Ask(prompt=..., images=[png], expect="json", schema=EditScores))

Backends: gemini (google-genai), openai (openai SDK; any OpenAI-compatible server with base_url),
local (in-process transformers VLM), offline (answers `unavailable`, never a guess).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hilite_cli.config import load_config
from hilite_cli.providers.base import Answer, Ask, Provider, SdkProvider, Settings
from hilite_cli.providers.cache import ResponseCache, default_cache_path
from hilite_cli.providers.errors import MissingKeyError, ProviderConfigError
from hilite_cli.providers.limiter import LimiterSettings

__all__ = ["Answer", "Ask", "MissingKeyError", "Provider", "ProviderConfigError", "get_provider", "parse_spec"]

BACKENDS: tuple[str, ...] = ("gemini", "openai", "local", "offline")
# The backends with a provider Batch API (`--batch-api`).
BATCH_BACKENDS: tuple[str, ...] = ("gemini", "openai")


def parse_spec(spec: str) -> tuple[str, str | None]:
    """`'gemini:gemini-2.5-flash'` -> `('gemini', 'gemini-2.5-flash')`; the model part is optional."""
    backend, _, model = spec.strip().partition(":")
    backend = backend.lower()
    if backend not in BACKENDS:
        raise ProviderConfigError(
            f"unknown provider `{spec}`: expected one of {', '.join(BACKENDS)}, optionally `:MODEL`"
        )
    return backend, (model or None)


def get_provider(
    spec: str,
    *,
    base_url: str | None = None,
    concurrency: int | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
    cache_path: Path | None = None,
    use_cache: bool = True,
    backoff_base: float | None = None,
    reask_failed: bool = False,
    batch_state: Path | None = None,
    batch_wait: float | None = None,
) -> Provider:
    """Build the provider for `spec = 'PROVIDER[:MODEL]'`; options override configs/providers.toml.

    `reask_failed` asks again wherever the cache holds a failure (`--retry-failed`), replaying only `ok`.
    `batch_state` (the `--batch-api` state file, e.g. `<output>.batches.jsonl`) makes `ask_many` go
    through provider batch jobs; it needs a gemini or openai backend.
    """
    backend, model = parse_spec(spec)
    config = load_config("providers")
    section: dict[str, Any] = config.get(backend, {})
    settings = provider_settings(concurrency, timeout, max_retries, backoff_base)
    model = model or section.get("model")
    if backend == "offline":
        from hilite_cli.providers.offline import OfflineProvider

        return OfflineProvider(None, settings, None)
    if batch_state is not None and backend not in BATCH_BACKENDS:
        raise ProviderConfigError(f"--batch-api needs a gemini or openai provider, got `{spec}`")
    cache = ResponseCache(cache_path or default_cache_path()) if use_cache else None
    try:
        provider = _build(backend, model, settings, cache, base_url, section)
        provider.reask_failed = reask_failed
        if isinstance(provider, SdkProvider):
            provider.check_reachable()
        if batch_state is not None:
            from hilite_cli.providers.batch.jobs import BatchSettings
            from hilite_cli.providers.batch.runner import BatchRunner

            batch = BatchSettings.from_config(config.get("batch", {}), max_wait=batch_wait)
            provider.batch = BatchRunner(provider, batch_state, batch)
        return provider
    except BaseException:
        if cache is not None:
            cache.close()
        raise


def provider_settings(
    concurrency: int | None = None, timeout: float | None = None, max_retries: int | None = None,
    backoff_base: float | None = None,
) -> Settings:
    """Reliability settings: the options given, else configs/providers.toml [defaults] (image editors share them)."""
    config = load_config("providers")
    defaults: dict[str, Any] = config["defaults"]
    return Settings(
        concurrency=max(1, concurrency or defaults["concurrency"]),
        timeout=float(timeout if timeout is not None else defaults["timeout"]),
        max_retries=max(0, max_retries if max_retries is not None else defaults["max_retries"]),
        backoff_base=float(backoff_base if backoff_base is not None else defaults["backoff_base"]),
        backoff_max=float(defaults["backoff_max"]),
        max_output_tokens=int(defaults["max_output_tokens"]),
        max_retry_after=float(defaults["max_retry_after"]),
        retry_after_jitter=float(defaults.get("retry_after_jitter", 0.5)),
        throttle_backoff_base=float(defaults.get("throttle_backoff_base", 0.1)),
        max_throttled_retries=max(0, int(defaults.get("max_throttled_retries", 16))),
        limiter=LimiterSettings(**config.get("limiter", {})),
    )


def _build(
    backend: str, model: str, settings: Settings, cache: ResponseCache | None, base_url: str | None,
    section: dict[str, Any],
) -> Provider:
    if backend == "gemini":
        from hilite_cli.providers.gemini import GeminiProvider

        return GeminiProvider(model, settings, cache, base_url=base_url, temperature=section.get("temperature"))
    if backend == "openai":
        from hilite_cli.providers.openai_chat import OpenAIProvider

        return OpenAIProvider(
            model, settings, cache, base_url=base_url, temperature=section.get("temperature"),
            reasoning_prefixes=tuple(section.get("reasoning_prefixes", ())),
        )
    from hilite_cli.providers.local import LocalProvider

    return LocalProvider(
        model, settings, cache, device=section.get("device") or None, dtype=section.get("dtype", "auto")
    )
