"""OpenAI and any OpenAI-compatible server (vLLM, SGLang, Ollama) through the openai SDK.

`chat.completions.create` with a strict `json_schema` response format, then our own parsing, so
the raw text is kept even when it does not validate (`parse()` would raise and lose it).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from hilite_cli.providers.base import Answer, Ask, SdkProvider, Settings
from hilite_cli.providers.cache import ResponseCache
from hilite_cli.providers.errors import TransientError
from hilite_cli.providers.keys import LOCAL_PLACEHOLDER_KEY, find_key, is_local_url, require_key
from hilite_cli.providers.media import data_url
from hilite_cli.providers.retry_after import retry_after_from
from hilite_cli.providers.usage import Usage, openai_usage
from hilite_cli.providers.wire import READ_ERRORS

KEY_VARIABLES = ("OPENAI_API_KEY",)


def status_error_reason(exc: Any) -> str:
    """The reason of an openai APIStatusError that asking again will not fix; a 429 or 5xx is raised
    as TransientError instead (shared by requests and batch calls)."""
    reason = f"HTTP {exc.status_code}: {exc.message}"
    if exc.status_code == 429 or exc.status_code >= 500:
        retry_after = retry_after_from(exc.response.headers)
        raise TransientError("http_error", reason, retry_after, throttled=exc.status_code == 429) from None
    return reason


class OpenAIProvider(SdkProvider):
    name = "openai"
    wire_format = "chat completion"

    def __init__(
        self, model: str, settings: Settings, cache: ResponseCache | None, *, base_url: str | None,
        temperature: float | None, reasoning_prefixes: tuple[str, ...],
    ) -> None:
        super().__init__(model, settings, cache)
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.base_url_from = None if base_url else "OPENAI_BASE_URL"
        if is_local_url(self.base_url):
            self._api_key = find_key(KEY_VARIABLES) or LOCAL_PLACEHOLDER_KEY
        else:
            self._api_key = require_key(KEY_VARIABLES, backend="openai", local_server=True)
        self.default_temperature = temperature
        self.reasoning = model.lower().startswith(reasoning_prefixes)

    def _new_client(self) -> Any:
        import openai

        return openai.OpenAI(
            api_key=self._api_key, base_url=self.base_url, timeout=self.settings.timeout, max_retries=0,
            http_client=openai.DefaultHttpxClient(event_hooks=self.wire.event_hooks()),
        )

    def _params(self, ask: Ask) -> dict[str, Any]:
        params = super()._params(ask)
        if self.reasoning:
            params["temperature"] = None
        return params

    def request(self, ask: Ask) -> dict[str, Any]:
        """The chat.completions arguments for `ask` (images first, then the prompt, as in the papers;
        the prompt first with `ask.text_first`)."""
        content: list[dict[str, Any]] = [
            {"type": "image_url", "image_url": {"url": data_url(img)}} for img in ask.images
        ]
        text = {"type": "text", "text": ask.prompt}
        content = [text, *content] if ask.text_first else [*content, text]
        kwargs: dict[str, Any] = {"model": self.model, "messages": [{"role": "user", "content": content}]}
        limit = self.output_limit(ask)
        if self.reasoning:
            kwargs["max_completion_tokens"] = limit
            if ask.reasoning_effort:
                kwargs["reasoning_effort"] = ask.reasoning_effort
        else:
            kwargs["max_tokens"] = limit
            temperature = self.temperature(ask)
            if temperature is not None:
                kwargs["temperature"] = temperature
        if ask.expect == "json":
            kwargs["response_format"] = _response_format(ask)
        return kwargs

    def _attempt(self, ask: Ask) -> Answer:
        import httpx2
        import openai

        try:
            completion = self._client_once().chat.completions.create(**self.request(ask))
        except openai.APITimeoutError:
            raise TransientError("timeout", f"no reply within {self.settings.timeout:g}s") from None
        except openai.APIConnectionError as exc:
            if isinstance(exc.__cause__, httpx2.DecodingError):  # e.g. a body sent as gzip that is not gzip
                return self.broken_reply(f"its body cannot be decoded ({exc.__cause__})", self.wire.body())
            raise TransientError("http_error", f"connection failed: {exc.message}") from None
        except openai.APIStatusError as exc:
            return self.answer("http_error", raw=exc.response.text or None, reason=status_error_reason(exc))
        except READ_ERRORS as exc:
            return self.unreadable_reply(exc)
        return self.read_response(ask, completion)

    def _usage(self, completion: Any) -> Usage | None:
        return openai_usage(completion)

    def _read(self, ask: Ask, completion: Any, body: Callable[[], str | None]) -> Answer:
        """Map a completion to a status; the SDK does not validate types, so each field is checked here."""
        if not completion.choices:
            return self.broken_reply("it has no choices", body())
        choice = completion.choices[0]
        message = choice.message
        refusal = getattr(message, "refusal", None)
        text = message.content
        if not isinstance(refusal, (str, type(None))) or not isinstance(text, (str, type(None))):
            return self.broken_reply("`content` and `refusal` must be strings or null", body())
        if refusal:
            return self.answer("refused", raw=refusal, reason="the model refused to answer")
        if choice.finish_reason == "content_filter":
            return self.answer("blocked", raw=text, reason="generation stopped by the content filter")
        if choice.finish_reason == "length":
            return self.answer(
                "truncated", raw=text, reason="generation hit the output token limit (finish_reason length)"
            )
        if text is None:
            return self.broken_reply(f"it has no text (finish_reason {choice.finish_reason})", body())
        return self.from_text(ask, text)


def _response_format(ask: Ask) -> dict[str, Any]:
    """Strict json_schema for object schemas; plain JSON mode otherwise (the API needs an object at the root)."""
    return _schema_format(ask.schema) if ask.schema is not None else {"type": "json_object"}


@functools.cache
def _schema_format(schema_class: type[BaseModel]) -> dict[str, Any]:
    """The response_format of a pydantic class, built once per class: generating the strict schema costs
    more CPU than the rest of building a request."""
    from openai.lib._pydantic import to_strict_json_schema

    schema = to_strict_json_schema(schema_class)
    if schema.get("type") == "object":
        return {"type": "json_schema", "json_schema": {"name": schema_class.__name__, "schema": schema, "strict": True}}
    return {"type": "text"}
