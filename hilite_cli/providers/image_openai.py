"""OpenAI image models through the openai SDK: `images.edit` (image, optional reference, optional
mask; multipart) and `images.generate` for sources, `b64_json` out.

A request the safety system rejects comes back as HTTP 400 with code `moderation_blocked` (or
`content_policy_violation`): a typed `blocked` answer with the API's message, never retried. A 429
or 5xx is retried by the Provider like any other call.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from hilite_cli.providers.base import Answer, Ask, Settings
from hilite_cli.providers.errors import ProviderConfigError, TransientError
from hilite_cli.providers.image import ImageAsk, ImageReply, has_c2pa
from hilite_cli.providers.media import image_mime
from hilite_cli.providers.openai_chat import OpenAIProvider, status_error_reason
from hilite_cli.providers.usage import Usage
from hilite_cli.providers.wire import READ_ERRORS

# Error codes of a request the safety system refused.
SAFETY_CODES = frozenset({"moderation_blocked", "content_policy_violation", "image_generation_user_error"})
# images.generate sizes by aspect (gpt-image-1 family).
SIZES = {"1024x1024": 1.0, "1536x1024": 1.5, "1024x1536": 1 / 1.5}


def nearest_size(size: tuple[int, int]) -> str:
    """The generation size whose aspect is closest to width x height."""
    import math

    want = math.log(size[0] / size[1])
    return min(SIZES, key=lambda s: abs(math.log(SIZES[s]) - want))


class OpenAIImageProvider(OpenAIProvider):
    name = "openai-image"
    wire_format = "images response"
    # A refused or blocked edit is the provider's verdict on this request (issue 25: never retried as a
    # transient), and every attempt is paid: a one-off bad answer is not asked again within the run.
    retries_one_off = False

    def __init__(self, model: str, settings: Settings, *, size: str) -> None:
        super().__init__(model, settings, None, base_url=None, temperature=None, reasoning_prefixes=())
        self.size = size

    def check_model(self) -> None:
        """One `models.retrieve` before any record: an unknown model is one line, not an error per record."""
        import openai

        try:
            self._client_once().models.retrieve(self.model)
        except openai.NotFoundError as exc:
            raise ProviderConfigError(f"openai does not know the image model {self.model!r} (HTTP 404: {exc.message})") \
                from None
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise ProviderConfigError(f"openai refused the API key (HTTP {exc.status_code}: {exc.message})") from None
        except openai.APIConnectionError as exc:
            raise ProviderConfigError(f"cannot reach the OpenAI API: {exc.message}") from None

    def request(self, ask: Ask) -> dict[str, Any]:
        """The images.edit (with images) or images.generate arguments for one attempt."""
        kwargs: dict[str, Any] = {"model": self.model, "prompt": ask.prompt, "n": 1}
        if not ask.images:
            wanted = ask.size if isinstance(ask, ImageAsk) else None
            kwargs["size"] = nearest_size(wanted) if wanted and self.size == "auto" else self.size
            return kwargs
        files = [(f"image{i}.{image_mime(img).split('/')[1]}", img, image_mime(img)) for i, img in enumerate(ask.images)]
        kwargs["image"] = files[0] if len(files) == 1 else files
        if isinstance(ask, ImageAsk) and ask.mask is not None:
            kwargs["mask"] = ("mask.png", ask.mask, "image/png")
        kwargs["size"] = self.size
        return kwargs

    def _attempt(self, ask: Ask) -> Answer:
        import openai

        kwargs = self.request(ask)
        images = self._client_once().images
        try:
            reply = images.edit(**kwargs) if "image" in kwargs else images.generate(**kwargs)
        except openai.APITimeoutError:
            raise TransientError("timeout", f"no reply within {self.settings.timeout:g}s") from None
        except openai.APIConnectionError as exc:
            raise TransientError("http_error", f"connection failed: {exc.message}") from None
        except openai.APIStatusError as exc:
            if exc.status_code == 400 and (getattr(exc, "code", None) in SAFETY_CODES):
                return self.answer("blocked", raw=exc.response.text or None,
                                   reason=f"refused by the provider's safety system ({exc.code}): {exc.message}")
            return self.answer("http_error", raw=exc.response.text or None, reason=status_error_reason(exc))
        except READ_ERRORS as exc:
            return self.unreadable_reply(exc)
        return self.read_response(ask, reply)

    def _usage(self, reply: Any) -> Usage | None:
        usage = getattr(reply, "usage", None)
        if usage is None:
            return None
        return Usage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens)

    def _read(self, ask: Ask, reply: Any, body: Callable[[], str | None]) -> Answer:
        if not reply.data:
            return self.broken_reply("it has no data", body())
        item = reply.data[0]
        if not isinstance(item.b64_json, str) or not item.b64_json:
            return self.broken_reply("its first image has no b64_json", body())
        try:
            data = base64.b64decode(item.b64_json, validate=True)
            mime = image_mime(data)
        except (binascii.Error, ValueError) as exc:
            return self.broken_reply(f"its b64_json is not an image ({exc})", body())
        provenance = {
            "provider": "openai", "model": self.model, "model_version": None, "revised_prompt": item.revised_prompt,
            "created": reply.created, "size": reply.size, "quality": reply.quality, "c2pa": has_c2pa(data),
        }
        return self.answer("ok", value=ImageReply(data, mime, provenance))
