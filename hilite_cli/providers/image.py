"""Image requests through the providers layer: what the hosted editors send, and what comes back.

An `ImageAsk` is one attempt (one request): the prompt, the images in order (source, then a
reference), an optional mask, the seed where the API takes one, and the attempt number. The reply is
an ordinary `Answer`: `ok` with `value = ImageReply`, or a typed failure (`blocked`, `refused`,
`http_error`, `timeout`, `unparsed`) with the provider's reason. Retries, the adaptive limiter, the
deadline and key scrubbing are the Provider's, exactly as for the judges; replies are never cached
(the candidate's image file is what a resumed run keeps).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hilite_cli.providers.base import Ask

# The label of a C2PA manifest store (a JUMBF box) in PNG, JPEG and WebP files.
C2PA_LABEL = b"c2pa"


class ImageAsk(Ask):
    """One edit or generation attempt."""

    mask: bytes | None = None  # PNG, the API's mask convention (openai: transparent = edit here)
    seed: int | None = None
    attempt: int = 1
    size: tuple[int, int] | None = None  # generation: the wanted (width, height); the API picks the nearest it makes


@dataclass(frozen=True)
class ImageReply:
    """The image bytes of an `ok` answer and what the provider said about them."""

    data: bytes
    mime: str
    provenance: dict[str, Any] = field(default_factory=dict)


def has_c2pa(data: bytes) -> bool:
    """Whether the file carries a C2PA manifest store (its JUMBF label), as OpenAI's images do."""
    return C2PA_LABEL in data
