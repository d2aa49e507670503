"""Every `--flag` a help text names exists on that command: help must not promise what is not there."""

from __future__ import annotations

import re
from typing import Any

import typer.main

from hilite_cli.cli.app import app

_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
_CLAUSE_START = re.compile(r"[`(|;\n][^`(|;\n]*$")


def _of_another_command(text: str, at: int, others: set[str]) -> bool:
    """`hilite models --check`, `validate --keep all`: the flag belongs to the command named before it."""
    clause = _CLAUSE_START.search(text[:at])
    words = set(re.findall(r"[a-z][a-z-]*", clause.group(0) if clause else text[:at]))
    return bool(words & others)


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every command under `group` (typer may vendor click, so groups are known by their `commands`)."""
    out = [(path, group)]
    if hasattr(group, "commands"):
        for name, sub in group.commands.items():
            out.extend(_commands(sub, (*path, name)))
    return out


def _texts(command: Any) -> list[str]:
    texts = [command.help or ""]
    texts += [getattr(p, "help", None) or "" for p in command.params]
    return texts


def test_every_flag_named_in_a_help_text_exists_on_that_command() -> None:
    root = typer.main.get_command(app)
    wrong = []
    for path, command in _commands(root):
        if hasattr(command, "commands"):
            continue
        own = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)} | {"--help"}
        others = set(root.commands) - {path[0]}
        for text in _texts(command):
            for m in _FLAG.finditer(text):
                if m.group(0) in own or _of_another_command(text, m.start(), others):
                    continue
                flag = m.group(0)
                wrong.append(f"hilite {' '.join(path)}: help names {flag}, which it does not have")
    assert not wrong, "\n".join(sorted(set(wrong)))
