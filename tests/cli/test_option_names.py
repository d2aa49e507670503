"""One name per concept: walk every command's options (click introspection of the Typer app).

Clashes it catches: one concept under two names (`--seeds` here, `--attempts` there), one name with
two meanings (a flag in one command, a value in another; `--seed` for two different seeds), and a
shared option whose help is spelled differently from command to command.
"""

from __future__ import annotations

from collections import defaultdict

from typing import Any

import pytest
import typer

from hilite_cli.cli.app import app

# Options that mean the same thing wherever they appear: their help must read the same everywhere.
SHARED = (
    "--output", "--errors", "--resume", "--progress", "--executor", "--workers", "--gpus-per-worker",
    "--concurrency", "--timeout", "--max-retries", "--no-cache", "--weights", "--device", "--dtype",
    "--steps", "--text-influence", "--image-influence", "--t-aes", "--t-adh",
)
# Where a shared name rightly says more, and why.
OWN_HELP = {("mine", "--output"): "a pool file, never stdout: the state file lives beside it"}
# Concepts that once had two names; only the first may be visible.
SYNONYMS = (("--attempts", "--seeds"),)
# Names too vague to be visible: each command says which seed it means.
AMBIGUOUS = ("--seed",)
# Hidden aliases kept for one release, per command: old name -> new name.
ALIASES = {
    "edit": {"--seeds": "--attempts"},
    "mine": {"--seed": "--schedule-seed"},
    "score-dataset": {"--seed": "--sample-seed"},
    "mask": {"--threshold": "--diff-threshold"},
    "models": {"--json": "--jsonl"},
}
# Commands that run no stage over a manifest, so have no bar to show: a listing, a quick copy out, the
# studio's server, and the studio store's rating-task and session commands (each one quick read or write).
NO_PROGRESS = ("models", "export", "studio", "rate-tasks", "rate-export", "session", "tune-judge")  # groups: their own commands
# Options every provider-calling command offers.
PROVIDER_OPTIONS = ("--concurrency", "--timeout", "--max-retries", "--no-cache")


def _commands() -> dict[str, Any]:
    return dict(typer.main.get_command(app).commands)


def _options(command: Any, hidden: bool = False) -> list[Any]:
    """The command's options (Typer ships its own copy of click, so they are told apart by type name)."""
    return [p for p in command.params if p.param_type_name == "option" and p.hidden == hidden]


def _names(option: Any) -> list[str]:
    return [n for n in option.opts + option.secondary_opts if n.startswith("--")]


def test_no_name_means_two_things() -> None:
    kinds: dict[str, set[str]] = defaultdict(set)
    for command in _commands().values():
        for option in _options(command):
            kind = "flag" if option.is_flag else "value"
            for name in _names(option):
                kinds[name].add(kind)
    assert {n: k for n, k in kinds.items() if len(k) > 1} == {}
    visible = set(kinds)
    assert visible.isdisjoint(AMBIGUOUS)
    for keep, *olds in SYNONYMS:
        assert keep in visible and visible.isdisjoint(olds)


def test_shared_options_read_the_same_everywhere() -> None:
    helps: dict[str, set[str]] = defaultdict(set)
    for command_name, command in _commands().items():
        for option in _options(command):
            for name in _names(option):
                if name in SHARED and (command_name, name) not in OWN_HELP:
                    helps[name].add(option.help or "")
    assert {n: h for n, h in helps.items() if len(h) > 1} == {}


def test_provider_commands_share_the_provider_knobs() -> None:
    for name in ("route", "validate", "invert", "bootstrap", "score-dataset", "mine"):
        names = {n for option in _options(_commands()[name]) for n in _names(option)}
        assert set(PROVIDER_OPTIONS) <= names, name
    edit = {n for option in _options(_commands()["edit"]) for n in _names(option)}
    assert "--max-retries" in edit  # the one-off form routes through a provider


def test_every_stage_has_progress_and_help_names_its_inputs() -> None:
    commands = _commands()
    for name, command in commands.items():
        if name not in NO_PROGRESS:
            assert any("--progress" in _names(o) for o in _options(command)), name
    for name in ("route", "edit"):
        argument = next(p for p in commands[name].params if p.param_type_name == "argument")
        assert "image" in (getattr(argument, "help", "") or "").lower(), name
    validate_format = next(o for o in _options(commands["validate"]) if "--format" in _names(o))
    assert "diffusion-dpo" in validate_format.help


@pytest.mark.parametrize(("command", "old", "new"), [(c, o, n) for c, m in ALIASES.items() for o, n in m.items()])
def test_old_spellings_are_hidden_aliases(command: str, old: str, new: str) -> None:
    cmd = _commands()[command]
    hidden = {n for o in _options(cmd, hidden=True) for n in _names(o)}
    visible = {n for o in _options(cmd) for n in _names(o)}
    assert old in hidden and new in visible
