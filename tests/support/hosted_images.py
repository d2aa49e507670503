"""Hosted image editors against the loopback server: the replies and the environment the SDKs need."""

from __future__ import annotations

import pytest
from PIL import Image

from hilite_cli.images import encode_image
from support.loopback import ImageOut, Loopback, Received

KEY = "sk-test-SECRET-0123456789abcdef"
ENV_VARS = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_API_KEY", "GOOGLE_GEMINI_BASE_URL", "OPENAI_BASE_URL")


def edited_png(colour: tuple[int, int, int] = (20, 40, 220), size: tuple[int, int] = (96, 64)) -> bytes:
    """What the fake API returns: a flat image at its own size (the editor resizes it back)."""
    return encode_image(Image.new("RGB", size, colour))


def answer_images(request: Received) -> ImageOut:
    """Every image request gets an image with token counts (1290 output tokens, as 2.5 Flash Image bills)."""
    return ImageOut(edited_png(), text="Here is the edit.", tokens=(300, 1290), revised_prompt="a winter scene")


def point_sdks_at(server: Loopback, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys set and both SDKs' base URLs on the loopback server (for this process and its subprocesses)."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_BASE_URL", server.openai_url)
