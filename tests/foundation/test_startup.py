"""Shell pipelines start one process per stage: the CLI must not import heavy libraries to start."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "diffusers", "transformers", "cv2", "google.genai", "openai", "skimage", "scipy", "sklearn",
         "matplotlib")


def _modules_after(code: str) -> set[str]:
    """Modules loaded after `code`, listed on stderr so help text on stdout cannot mix in."""
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys\nsys.stderr.write('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True)
    return set(out.stderr.split())


def test_cli_import_pulls_no_heavy_module() -> None:
    loaded = _modules_after("import hilite_cli.cli.app")
    assert not [m for m in HEAVY if m in loaded]


def test_every_subcommand_help_is_light() -> None:
    from hilite_cli.cli.app import app
    import typer.main

    group = typer.main.get_command(app)
    for name in group.commands:
        loaded = _modules_after(
            "import sys\nsys.argv=['hilite', %r, '--help']\nfrom hilite_cli.cli.app import app\n"
            "try:\n    app()\nexcept SystemExit:\n    pass" % name
        )
        heavy = [m for m in HEAVY if m in loaded]
        assert not heavy, f"`hilite {name} --help` imports {heavy}"


def test_version() -> None:
    out = subprocess.run([sys.executable, "-m", "hilite_cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("hilite ")
