"""What every studio view shares: the store, settings, the worker pool, templates, loaded manifests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse

from hilite_cli.records import max_instruction_chars
from hilite_cli.store import Store
from hilite_cli.store.editing import LoadedEditors
from hilite_cli.studio.browse import Manifest
from hilite_cli.studio.jobs import Jobs

HERE = Path(__file__).parent


@dataclass
class StudioSettings:
    token: str | None = None
    host: str = "127.0.0.1"  # the address it listens on: a Host name served besides the loopback ones
    browse: list[str] = field(default_factory=list)
    models: list[str] | None = None
    provider: str = "offline"
    seeds: int | None = None  # attempts per editor in one Run [default: configs/studio.toml]
    weights: dict[str, Path] = field(default_factory=dict)  # model -> local weights folder (--weights NAME=DIR)


def unrunnable_editors(settings: StudioSettings) -> dict[str, str]:
    """{editor: why} for the editors that cannot run here, left out of every Run unless --models names
    the editors: what `hilite edit` does without --models, by the same registry check."""
    if settings.models:
        return {}
    from hilite_cli.models.availability import unrunnable_editors as unrunnable

    return unrunnable(None, weights=settings.weights, device=None, dtype=None)


@dataclass
class Studio:
    store: Store
    settings: StudioSettings
    config: dict[str, Any]
    jobs: Jobs
    manifests: list[Manifest]
    unavailable: dict[str, str] = field(default_factory=dict)  # see unrunnable_editors
    editors: LoadedEditors = field(default_factory=LoadedEditors)
    templates: Environment = field(default_factory=lambda: Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"])))

    @property
    def seeds(self) -> int:
        """Attempts per editor in one Run (an edit step or a replayed one): --seeds, else configs/studio.toml."""
        return self.settings.seeds or self.config["edit"]["seeds"]

    def text(self, field: str, value: Any, limit: str | None = None) -> str | None:
        """`value` as text no longer than configs/studio.toml [text] allows (`limit`, else `field`);
        None stays None. Anything else is a ValueError naming the field, so nothing oversized is stored."""
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError(f"`{field}` must be text, got {type(value).__name__}")
        key = limit or field
        # An instruction has one limit everywhere (configs/thresholds.toml [instructions]), studio included.
        most = max_instruction_chars() if key == "instruction" else self.config["text"][key]
        if len(value) > most:
            where = "thresholds.toml [instructions]" if key == "instruction" else "studio.toml [text]"
            raise ValueError(f"`{field}` is {len(value)} characters; at most {most} (configs/{where})")
        return value

    def page(self, request: Request, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        visitor = request.state.visitor
        html = self.templates.get_template(name).render(
            csrf=request.state.csrf, admin=visitor.admin, rater=visitor.rater, path=request.url.path, **values)
        return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object; anything else is a ValueError with a one-line reason."""
    import orjson

    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"the request body is not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise ValueError("the request body must be a JSON object")
    return body
