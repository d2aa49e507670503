"""Which image provider serves a hosted editor's backend: the one place that knows both classes
(kept out of `providers.image`, which both of them import)."""

from __future__ import annotations

from typing import Any

from hilite_cli.providers.base import Provider, Settings


def get_image_provider(backend: str, model: str, settings: Settings, *, options: dict[str, Any]) -> Provider:
    """The image provider for `backend` ("gemini" or "openai"); `options` come from configs/models.toml [hosted]."""
    if backend == "gemini":
        from hilite_cli.providers.image_gemini import GeminiImageProvider

        return GeminiImageProvider(model, settings)
    if backend == "openai":
        from hilite_cli.providers.image_openai import OpenAIImageProvider

        return OpenAIImageProvider(model, settings, size=str(options.get("size") or "auto"))
    raise ValueError(f"no image provider for backend {backend!r}")
