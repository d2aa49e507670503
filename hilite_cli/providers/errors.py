"""Exceptions of the provider layer: configuration errors stop a run, transient ones are retried."""

from __future__ import annotations

from typing import Literal


class ProviderConfigError(ValueError):
    """The provider cannot be built as asked (unknown backend, missing key, missing package): a usage error."""


class MissingKeyError(ProviderConfigError):
    """No API key in the environment. `advice` words the fix with the options of the command at hand."""

    def __init__(self, backend: str, variables: tuple[str, ...], *, local_server: bool) -> None:
        self.backend = backend
        self.variables = variables
        self.local_server = local_server
        super().__init__(self.advice())

    def advice(self, base_url_option: str | None = None, fallback: str | None = None) -> str:
        """How to fix it, in the command's own flags when the caller names them; `fallback=""` when the
        command has no way to run without a model (then none is suggested)."""
        fixes = [f"set {' or '.join(self.variables)} in the environment"]
        if self.local_server:
            where = f"pass {base_url_option} http://127.0.0.1:PORT/v1" if base_url_option else "give a loopback base URL"
            fixes.append(f"{where} to use a local OpenAI-compatible server (any key accepted)")
        if fallback != "":
            fixes.append(fallback or "use the `offline` provider to run without a language model")
        return f"no API key for the `{self.backend}` provider: " + ", or ".join(fixes)


class TransientError(Exception):
    """One attempt failed in a way worth retrying (429, 5xx, timeout, connection error).

    `throttled` marks a rate limit (429): the adaptive limiter slows down on it, not on a 5xx.
    """

    def __init__(
        self, status: Literal["http_error", "timeout"], reason: str, retry_after: float | None = None, *,
        throttled: bool = False,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after
        self.throttled = throttled
