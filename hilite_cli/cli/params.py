"""Parsing of option values shared by several commands."""

from __future__ import annotations

from pathlib import Path

from hilite_cli.cli.runner import usage_error


def parse_weights(values: list[str] | None) -> dict[str, Path]:
    """`["instruct-pix2pix=/w/ip2p", …]` → `{name: Path}`; a malformed entry is a usage error."""
    weights: dict[str, Path] = {}
    for value in values or []:
        name, sep, folder = value.partition("=")
        if not sep or not name or not folder:
            raise usage_error(f"--weights expects NAME=DIR, got {value!r}")
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise usage_error(f"--weights {name}: {folder} is not a folder")
        weights[name.strip()] = path
    return weights


def parse_list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def provider_options(base_url: str | None, concurrency: int | None, timeout: float | None, max_retries: int | None,
                     no_cache: bool) -> dict[str, object]:
    """The `get_provider` keyword arguments the shared provider options produce."""
    return {"base_url": base_url, "concurrency": concurrency, "timeout": timeout, "max_retries": max_retries,
            "use_cache": not no_cache}
