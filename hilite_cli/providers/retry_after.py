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
