"""Gemini image models through google-genai `generateContent`: image parts in, an inline image part out.

The request asks for `response_modalities=["IMAGE"]`, sends the seed (Gemini documents it as best
effort) and, for a generated source, the supported aspect ratio nearest the planned size. A blocked
prompt, a safety finish reason or a reply with text but no image is a typed failure that carries
the provider's own words; it is never retried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hilite_cli.providers.base import Answer, Ask, Settings
from hilite_cli.providers.errors import ProviderConfigError
from hilite_cli.providers.gemini import BLOCK_REASONS, GeminiProvider, _name
from hilite_cli.providers.image import ImageAsk, ImageReply, has_c2pa
from hilite_cli.providers.media import image_mime

# generateContent's image_config.aspect_ratio values.
ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
# Finish reasons that mean "no image, by the model's choice or policy" rather than a broken reply.
NO_IMAGE_REASONS = frozenset({"NO_IMAGE", "IMAGE_OTHER"})


def nearest_aspect(size: tuple[int, int]) -> str:
    """The supported aspect ratio closest (in log ratio) to width x height."""
    import math

    want = math.log(size[0] / size[1])

    def gap(ratio: str) -> float:
        w, h = ratio.split(":")
        return abs(math.log(int(w) / int(h)) - want)

    return min(ASPECT_RATIOS, key=gap)


class GeminiImageProvider(GeminiProvider):
    name = "gemini-image"
    wire_format = "generateContent response"
    # A refused or blocked edit is the provider's verdict on this request (issue 25: never retried as a
    # transient), and every attempt is paid: a one-off bad answer is not asked again within the run.
    retries_one_off = False

    def __init__(self, model: str, settings: Settings) -> None:
        super().__init__(model, settings, None, base_url=None, temperature=None)

    def check_model(self) -> None:
        """One `models.get` before any record: a model the API does not know is one line, not an error per record."""
        import httpx2
        from google.genai import errors

        try:
            self._client_once().models.get(model=self.model)
        except errors.APIError as exc:
            if exc.code == 404:
                raise ProviderConfigError(f"gemini does not know the image model {self.model!r} "
                                          f"(HTTP 404: {exc.message or 'not found'})") from None
            if exc.code in (401, 403):
                raise ProviderConfigError(f"gemini refused the API key (HTTP {exc.code}: {exc.message})") from None
        except httpx2.TransportError as exc:
            raise ProviderConfigError(f"cannot reach the Gemini API: {type(exc).__name__}") from None

    def _config(self, ask: Ask) -> Any:
        from google.genai import types

        config: dict[str, Any] = {"response_modalities": ["IMAGE"]}
        if isinstance(ask, ImageAsk):
            if ask.seed is not None:
                config["seed"] = int(ask.seed)
            if ask.size is not None:
                config["image_config"] = types.ImageConfig(aspect_ratio=nearest_aspect(ask.size))
        return types.GenerateContentConfig(**config)

    def contents(self, ask: Ask) -> list[Any]:
        from google.genai import types

        parts = [types.Part.from_bytes(data=img, mime_type=image_mime(img)) for img in ask.images]
        parts.append(types.Part.from_text(text=ask.prompt))
        return [types.Content(role="user", parts=parts)]

    def _read(self, ask: Ask, response: Any, body: Callable[[], str | None]) -> Answer:
        """Block reasons first, then the first inline image part; text without an image is a refusal."""
        feedback = response.prompt_feedback
        if feedback is not None and feedback.block_reason is not None:
            detail = f": {feedback.block_reason_message}" if feedback.block_reason_message else ""
            return self.answer("blocked", reason=f"prompt blocked: {_name(feedback.block_reason)}{detail}")
        if not response.candidates:
            return self.broken_reply("it has no candidates", body())
        candidate = response.candidates[0]
        parts = (candidate.content.parts if candidate.content is not None else None) or []
        text = " ".join(p.text for p in parts if p.text and not p.thought) or None
        finish = _name(candidate.finish_reason)
        said = f"; the model said: {text}" if text else ""
        explained = candidate.finish_message or self._finish_message()
        message = f" ({explained})" if explained else ""
        if finish in BLOCK_REASONS:
            return self.answer("blocked", raw=text, reason=f"generation stopped: {finish}{message}{said}")
        image = next((p.inline_data for p in parts if p.inline_data is not None and p.inline_data.data), None)
        if image is None:
            if finish in NO_IMAGE_REASONS or text:
                return self.answer("refused", raw=text, reason=f"no image in the reply (finishReason {finish}){message}{said}")
            return self.broken_reply(f"it has no image part (finishReason {finish})", body())
        provenance = {
            "provider": "gemini", "model": self.model, "model_version": response.model_version,
            "response_id": response.response_id, "text": text, "finish_reason": finish,
            "c2pa": has_c2pa(image.data),
        }
        reply = ImageReply(image.data, image.mime_type or image_mime(image.data), provenance)
        return self.answer("ok", value=reply, raw=text)

    def _finish_message(self) -> str | None:
        """The candidate's `finishMessage` (why no image came) from the reply body: google-genai's Gemini API
        converter drops that field. None when the body was not kept or has none."""
        import orjson

        try:
            return orjson.loads(self.wire.body() or "")["candidates"][0].get("finishMessage")
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
            return None
