"""The `hilite` command: wires the subcommands together, nothing else.

Each subcommand module imports only light modules at start-up; torch, diffusers, transformers,
cv2 and the provider SDKs load inside the code that needs them, so `--help` stays fast.
"""

from __future__ import annotations

import os
import signal
import sys
import tomllib
from typing import Any

import typer

from hilite_cli import __version__
from hilite_cli.cli import bootstrap, debias, edit, export, invert, mask, mine, models, route, score_dataset, validate
from hilite_cli.cli import eval as eval_cmd
from hilite_cli.cli import rate, session, studio, tune_judge

app = typer.Typer(
    name="hilite",
    help="Instruction-guided image editing and edit-dataset mining (HILITE + NoHumansRequired), as chainable JSONL stages.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        print(f"hilite {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show library warnings and logs (transformers, diffusers, hub); anywhere on the line."
    ),
) -> None:
    """Instruction-guided image editing and edit-dataset mining, as chainable JSONL stages."""


app.command("route", help=route.HELP, short_help=route.SHORT)(route.command)
app.command("edit", help=edit.HELP, short_help=edit.SHORT)(edit.command)
app.command("mask", help=mask.HELP, short_help=mask.SHORT)(mask.command)
app.command("models", help=models.HELP, short_help=models.SHORT)(models.command)
app.command("mine", help=mine.HELP, short_help=mine.SHORT)(mine.command)
app.command("validate", help=validate.HELP, short_help=validate.SHORT)(validate.command)
app.command("invert", help=invert.HELP, short_help=invert.SHORT)(invert.command)
app.command("bootstrap", help=bootstrap.HELP, short_help=bootstrap.SHORT)(bootstrap.command)
app.command("score-dataset", help=score_dataset.HELP, short_help=score_dataset.SHORT)(score_dataset.command)
app.command("debias", help=debias.HELP, short_help=debias.SHORT)(debias.command)
app.command("export", help=export.HELP, short_help=export.SHORT)(export.command)
app.command("eval", help=eval_cmd.HELP, short_help=eval_cmd.SHORT)(eval_cmd.command)
app.add_typer(session.app, name="session")
app.command("studio", help=studio.HELP, short_help=studio.SHORT)(studio.command)
app.command("rate-tasks", help=rate.TASKS_HELP, short_help=rate.TASKS_SHORT)(rate.tasks_command)
app.command("rate-export", help=rate.EXPORT_HELP, short_help=rate.EXPORT_SHORT)(rate.export_command)
app.add_typer(tune_judge.app, name="tune-judge")


# Failures whose message already says what to do: shown as one line, without the debug hint.
EXPECTED: tuple[type[BaseException], ...] = (OSError, tomllib.TOMLDecodeError)

# Options that take two words (`--export kto FILE`); Typer options take one, so the pair is joined
# into `kto=FILE` before parsing.
PAIR_OPTIONS = frozenset({"--export"})


def join_pair_options(argv: list[str]) -> list[str]:
    out: list[str] = []
    words = iter(argv)
    for word in words:
        out.append(word)
        if word in PAIR_OPTIONS:
            first = next(words, None)
            if first is None:
                break
            if "=" not in first and not first.startswith("-"):
                second = next(words, None)
                if second is not None and second.startswith("-"):  # `--export kto --no-progress`: no file given
                    out.extend([first, second])
                    continue
                first = f"{first}={second}" if second is not None else first
            out.append(first)
    return out


def split_verbose(argv: list[str]) -> tuple[bool, list[str]]:
    """`-v`/`--verbose` is global and may come anywhere before `--`: take it out before parsing."""
    end = argv.index("--") if "--" in argv else len(argv)
    flags = {"-v", "--verbose"}
    verbose = any(word in flags for word in argv[:end])
    return verbose, [w for w in argv[:end] if w not in flags] + argv[end:]


def _usage_line(exc: Any) -> str:
    """A click usage error as one line (the problem, what was meant, where help is), never suggesting hidden old names."""
    command = exc.ctx.command_path if exc.ctx else "hilite"
    message = exc.format_message()
    possibilities = getattr(exc, "possibilities", None)
    if possibilities and exc.ctx is not None:
        hidden = {n for p in exc.ctx.command.params if getattr(p, "hidden", False) for n in p.opts}
        shown = sorted(set(possibilities) - hidden)
        message = message.split(" (Possible options")[0].split(" Did you mean")[0]
        if shown:
            message += f" (did you mean {', '.join(shown)}?)"
    return f"{command}: error: {message} — see `{command} --help`"


def main() -> None:
    """Entry point: errors become one line; library noise only with -v; tracebacks only with HILITE_DEBUG=1."""
    from hilite_cli.cli.terminal import quiet_libraries
    from hilite_cli.providers.errors import ProviderConfigError
    from hilite_cli.providers.keys import install_scrubbing, scrub

    if hasattr(signal, "SIGPIPE"):  # `hilite route … | head` ends quietly, like any Unix filter
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    install_scrubbing()
    debug = os.environ.get("HILITE_DEBUG") == "1"
    verbose, argv = split_verbose(sys.argv[1:])
    if not (verbose or debug):
        quiet_libraries()
    try:
        code = app(args=join_pair_options(argv), prog_name="hilite", standalone_mode=False)
    except typer.Abort:
        print("hilite: aborted", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("hilite: interrupted", file=sys.stderr)
        sys.exit(130)
    except click_exceptions() as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            print(exc.format_message(), file=sys.stderr)
            sys.exit(2)
        print(_usage_line(exc) if getattr(exc, "ctx", None) else f"hilite: error: {exc.format_message()}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except ProviderConfigError as exc:  # a provider or its cache that cannot be used as configured: usage
        print(f"hilite: error: {scrub(one_line(exc))}", file=sys.stderr)
        sys.exit(2)
    except EXPECTED as exc:
        if debug:
            raise
        print(f"hilite: error: {scrub(one_line(exc))}", file=sys.stderr)
        sys.exit(2)
    except Exception as exc:
        if debug:
            raise
        print(f"hilite: error: {type(exc).__name__}: {scrub(one_line(exc))} (unexpected; set HILITE_DEBUG=1 for the traceback)",
              file=sys.stderr)
        sys.exit(2)
    sys.exit(code or 0)


def click_exceptions() -> type[Exception]:
    """Typer's copy of click's ClickException (usage errors and the like)."""
    from typer._click.exceptions import ClickException

    return ClickException


def one_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())
