"""Read a server's Retry-After header (seconds or an HTTP date) as seconds to wait."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After (or retry-after-ms style seconds) header value; None if absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def retry_after_from(headers: object) -> float | None:
    """The wait a 429 asks for: `retry-after-ms` (OpenAI, milliseconds) first, then `Retry-After`."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    millis = retry_after_seconds(get("retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
    return retry_after_seconds(get("retry-after"))
