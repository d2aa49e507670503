"""Gemini through the google-genai SDK: image parts, native JSON schema, typed safety/length failures.

Retries are ours (Provider._with_retries), not the SDK's, so that Retry-After is honoured and
the behaviour is the same for every backend; the client is therefore built without retry_options.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from hilite_cli.providers.base import Answer, Ask, SdkProvider, Settings
from hilite_cli.providers.cache import ResponseCache
from hilite_cli.providers.errors import TransientError
from hilite_cli.providers.keys import require_key
from hilite_cli.providers.media import image_mime
from hilite_cli.providers.retry_after import retry_after_from
from hilite_cli.providers.usage import Usage, gemini_usage
from hilite_cli.providers.vertex import use_vertex, vertex_settings
from hilite_cli.providers.wire import READ_ERRORS

KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
BLOCK_REASONS = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT",
     "IMAGE_RECITATION"}
)


def _name(enum_or_str: Any) -> str | None:
    if enum_or_str is None:
        return None
    return getattr(enum_or_str, "value", None) or str(enum_or_str)


def api_error_reason(exc: Any) -> str:
    """The reason of a google-genai APIError that asking again will not fix; a 429 or 5xx is raised
    as TransientError instead (shared by requests and batch calls)."""
    reason = f"HTTP {exc.code} {exc.status or ''}: {exc.message or ''}".strip()
    if exc.code == 429 or exc.code >= 500:
        headers = getattr(exc.response, "headers", None) or {}
        raise TransientError("http_error", reason, retry_after_from(headers), throttled=exc.code == 429) from None
    return reason


class GeminiProvider(SdkProvider):
    name = "gemini"
    wire_format = "generateContent response"

    def __init__(
        self, model: str, settings: Settings, cache: ResponseCache | None, *, base_url: str | None,
        temperature: float | None,
    ) -> None:
        super().__init__(model, settings, cache)
        # GOOGLE_GENAI_USE_VERTEXAI: project, location and credentials instead of an API key (providers/vertex.py)
        self._vertex = vertex_settings() if use_vertex() else None
        self._api_key = None if self._vertex else require_key(KEY_VARIABLES, backend="gemini", local_server=False)
        url_variable = "GOOGLE_VERTEX_BASE_URL" if self._vertex else "GOOGLE_GEMINI_BASE_URL"
        self.base_url = base_url or os.environ.get(url_variable) or None
        self.base_url_from = None if base_url else url_variable
        self.default_temperature = temperature

    def _new_client(self) -> Any:
        from google import genai
        from google.genai import types

        auth = self._vertex.client_args() if self._vertex else {"api_key": self._api_key}
        return genai.Client(
            **auth,
            http_options=types.HttpOptions(
                base_url=self.base_url, timeout=int(self.settings.timeout * 1000),
                client_args={"event_hooks": self.wire.event_hooks()},
            ),
        )

    def _config(self, ask: Ask) -> Any:
        from google.genai import types

        config: dict[str, Any] = {
            "temperature": self.temperature(ask),
            "max_output_tokens": self.output_limit(ask),
        }
        if ask.expect == "json":
            config["response_mime_type"] = "application/json"
            if ask.schema is not None:
                config["response_schema"] = ask.schema
        if ask.reasoning_effort:
            config["thinking_config"] = types.ThinkingConfig(thinking_level=ask.reasoning_effort.upper())
        return types.GenerateContentConfig(**config)

    def contents(self, ask: Ask) -> list[Any]:
        """The `contents` of a request for `ask` (images first, then the prompt; the prompt first with
        `ask.text_first`), plain or in a batch job."""
        from google.genai import types

        parts = [types.Part.from_bytes(data=img, mime_type=image_mime(img)) for img in ask.images]
        text = types.Part.from_text(text=ask.prompt)
        parts = [text, *parts] if ask.text_first else [*parts, text]
        return [types.Content(role="user", parts=parts)]

    def _attempt(self, ask: Ask) -> Answer:
        import httpx2
        from google.genai import errors

        contents = self.contents(ask)
        try:
            response = self._client_once().models.generate_content(
                model=self.model, contents=contents, config=self._config(ask)
            )
        except errors.APIError as exc:
            return self.answer("http_error", reason=api_error_reason(exc))
        except httpx2.TimeoutException:
            raise TransientError("timeout", f"no reply within {self.settings.timeout:g}s") from None
        except httpx2.TransportError as exc:
            raise TransientError("http_error", f"connection failed: {type(exc).__name__}") from None
        except httpx2.DecodingError as exc:  # e.g. a body sent as gzip that is not gzip
            return self.broken_reply(f"its body cannot be decoded ({exc})", self.wire.body())
        except httpx2.RequestError as exc:  # too many redirects and the like: asking again changes nothing
            return self.answer("http_error", reason=f"request failed: {type(exc).__name__}: {exc}")
        except READ_ERRORS as exc:
            return self.unreadable_reply(exc)
        return self.read_response(ask, response)

    def _usage(self, response: Any) -> Usage | None:
        return gemini_usage(response)

    def _read(self, ask: Ask, response: Any, body: Callable[[], str | None]) -> Answer:
        """Map the response to a status: block reasons first, then finish reason, then the text."""
        feedback = response.prompt_feedback
        if feedback is not None and feedback.block_reason is not None:
            return self.answer("blocked", reason=f"prompt blocked: {_name(feedback.block_reason)}")
        if not response.candidates:
            return self.broken_reply("it has no candidates", body())
        candidate = response.candidates[0]
        parts = (candidate.content.parts if candidate.content is not None else None) or []
        text = "".join(p.text for p in parts if p.text and not p.thought) or None
        finish = _name(candidate.finish_reason)
        if finish in BLOCK_REASONS:
            return self.answer("blocked", raw=text, reason=f"generation stopped: {finish}")
        if finish == "MAX_TOKENS":
            return self.answer("truncated", raw=text, reason="generation hit the output token limit (MAX_TOKENS)")
        if text is None:
            return self.broken_reply(f"it has no text (finishReason {finish})", body())
        return self.from_text(ask, text)
