"""Image bytes as the wire formats want them."""

from __future__ import annotations

import base64

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
)


def image_mime(data: bytes) -> str:
    """The MIME type of encoded image bytes; anything but PNG/JPEG/GIF/WebP is refused."""
    for signature, mime in _SIGNATURES:
        if data.startswith(signature):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise ValueError(
        "image bytes are not PNG, JPEG, GIF or WebP; encode the image first (hilite_cli.images.encode_image)"
    )


def data_url(data: bytes) -> str:
    """A base64 data URL, the way OpenAI-compatible chat APIs take images."""
    return f"data:{image_mime(data)};base64,{base64.b64encode(data).decode()}"
