"""Exceptions of the provider layer: configuration errors stop a run, transient ones are retried."""

from __future__ import annotations

from typing import Literal


class ProviderConfigError(ValueError):
    """The provider cannot be built as asked (unknown backend, missing key, missing package): a usage error."""


class MissingKeyError(ProviderConfigError):
    """No API key in the environment; the message names the variable to set and the flag to pass instead."""


class TransientError(Exception):
    """One attempt failed in a way worth retrying (429, 5xx, timeout, connection error)."""

    def __init__(self, status: Literal["http_error", "timeout"], reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after
