"""API keys: read only from the environment, and scrubbed from anything the layer hands back or logs."""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
import warnings
from typing import Any
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


def install_scrubbing() -> None:
    """Route what the process prints besides answers through `scrub`: Python warnings and log records.

    A hostile or buggy server can put the key into a field an SDK echoes in a warning (google-genai:
    "… is not a valid FinishReason"); answers are scrubbed where they are made, but warnings and log
    lines are printed by the warnings and logging machinery, so both are scrubbed at the source.
    Call once, at the start of a command.
    """
    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None,
             line: str | None = None) -> None:
        stream = file if file is not None else sys.stderr
        if stream is None:
            return
        try:
            stream.write(scrub(warnings.formatwarning(message, category, filename, lineno, line)) or "")
        except OSError:
            pass  # like warnings' own showwarning: a closed stderr loses the warning, not the run

    warnings.showwarning = show

    def show_exception(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        """Tracebacks too (HILITE_DEBUG=1, or a crash in a worker thread) pass the scrubber."""
        sys.stderr.write(scrub("".join(traceback.format_exception(kind, value, tb))) or "")

    def show_thread_exception(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is not SystemExit:
            show_exception(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)

    sys.excepthook = show_exception
    threading.excepthook = show_thread_exception
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "scrubs_keys", False):
        return

    def scrubbed_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        record.msg, record.args = scrub(record.getMessage()), None
        if record.exc_info:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return record

    scrubbed_record.scrubs_keys = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(scrubbed_record)
