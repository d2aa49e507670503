"""API keys: read only from the environment, and scrubbed from anything the layer hands back or logs."""

from __future__ import annotations

import os
from urllib.parse import urlparse

from hilite_cli.providers.errors import MissingKeyError

# Variables whose values must never leave the process in an answer, a log line or the cache.
KEY_VARIABLES: tuple[str, ...] = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_API_KEY")

# Sent to OpenAI-compatible servers on this machine, which take any key.
LOCAL_PLACEHOLDER_KEY = "hilite-local-no-key"

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


def find_key(variables: tuple[str, ...]) -> str | None:
    """The first non-empty value among `variables`."""
    for name in variables:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def require_key(variables: tuple[str, ...], *, backend: str, local_server: bool) -> str:
    """The key for `backend`, or a MissingKeyError that says exactly how to fix it."""
    key = find_key(variables)
    if key:
        return key
    raise MissingKeyError(backend, variables, local_server=local_server)


def is_local_url(url: str | None) -> bool:
    """True for loopback URLs, where OpenAI-compatible servers accept a placeholder key."""
    if not url:
        return False
    return (urlparse(url).hostname or "") in _LOCAL_HOSTS


def scrub(text: str | None) -> str | None:
    """`text` with every API key from the environment replaced by `***`."""
    if not text:
        return text
    for name in KEY_VARIABLES:
        value = os.environ.get(name, "").strip()
        if len(value) >= 4 and value in text:
            text = text.replace(value, "***")
    return text
