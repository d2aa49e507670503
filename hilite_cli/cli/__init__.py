"""Typer commands: one thin module per subcommand; `app.py` only wires them together."""
