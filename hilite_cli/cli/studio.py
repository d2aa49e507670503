"""`hilite studio`: the local web app over the store (edit, gallery, rate, browse)."""

from __future__ import annotations

import secrets
import sys
from typing import Annotated

import typer

from hilite_cli.cli.data_option import DataDir, open_store
from hilite_cli.cli.options import Weights

SHORT = "Local web app over the store: edit sessions, gallery, rating tasks, manifest browser."
HELP = f"""{SHORT}

\b
  hilite studio --data studio/                                  # http://127.0.0.1:8765/
  hilite studio --data studio/ --models instruct-pix2pix,classic --weights instruct-pix2pix=/w/ip2p
  hilite studio --data studio/ --browse triplets.jsonl --browse scored.jsonl
  hilite studio --data studio/ --host 0.0.0.0 --token "$(openssl rand -hex 16)"

It listens on 127.0.0.1 unless told otherwise; any other --host needs a --token (one is generated
and printed when none is given), and every request must carry it (open /?token=… once: a cookie
keeps it); without one, only the loopback Host names and --host are served. Raters open
/rate?token=THEIR_TOKEN (see `hilite rate-tasks`) and reach only their tasks. Without --models, only
the editors that can run here are offered (`hilite models --check`).
Images are served only from the store and from files the --browse manifests name.
"""

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def command(
    data: DataDir = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on [default: configs/studio.toml, 127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535, help="Port [default: configs/studio.toml, 8765].")] = None,
    token: Annotated[str | None, typer.Option(help="Access token every request must carry (required off loopback).")] = None,
    browse: Annotated[list[str] | None, typer.Option(help="A triplets or scored manifest to page through (repeatable).")] = None,
    models: Annotated[str | None, typer.Option(help="Comma-separated editors to run [default: every routed one that can run here].")] = None,
    provider: Annotated[str, typer.Option(help="Router provider for Translate (offline rules by default).")] = "offline",
    seeds: Annotated[int | None, typer.Option("--attempts", min=1, help="Attempts per editor in one Run [default: configs/studio.toml].")] = None,
    weights: Weights = None,
) -> None:
    import uvicorn

    from hilite_cli.cli.params import parse_list, parse_weights
    from hilite_cli.cli.runner import require_manifests, usage_error
    from hilite_cli.config import load_config
    from hilite_cli.studio.app import StudioSettings, create_app

    config = load_config("studio")
    host = host or config["server"]["host"]
    port = config["server"]["port"] if port is None else port
    if host not in LOOPBACK and not token:
        token = secrets.token_urlsafe(24)
        print(f"hilite studio: listening on {host} needs a token; generated one: {token}", file=sys.stderr)
    require_manifests(browse or [])
    local = parse_weights(weights)
    store = open_store(data)
    try:
        settings = StudioSettings(token=token, host=host, browse=list(browse or []), models=parse_list(models), provider=provider,
                                  seeds=seeds, weights=local)
        app = create_app(store, settings)
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    shown = f"[{host}]" if ":" in host else host
    suffix = f"/?token={token}" if token else "/"
    print(f"hilite studio: http://{shown}:{port}{suffix}  (data: {store.root})", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="warning")
