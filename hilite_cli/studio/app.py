"""The studio's Starlette app: wiring only (middleware, routes, the worker pool's life)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from hilite_cli.store import Store, sessions
from hilite_cli.studio import views_browse, views_edit, views_gallery, views_rate
from hilite_cli.studio.browse import load_manifest
from hilite_cli.studio.context import HERE, Studio, StudioSettings, unrunnable_editors
from hilite_cli.studio.jobs import Jobs
from hilite_cli.studio.limits import BodyLimit
from hilite_cli.studio.security import AccessMiddleware

__all__ = ["StudioSettings", "create_app"]


def allowed_hosts(settings: StudioSettings, config: dict[str, Any]) -> list[str]:
    """The Host names served: any with an access token; without one (loopback), the loopback names
    and the address it listens on, so a rebinding name that resolves here is refused."""
    if settings.token:
        return ["*"]
    listen = f"[{settings.host}]" if ":" in settings.host else settings.host
    return [*config["server"]["allowed_hosts"], listen]


def create_app(store: Store, settings: StudioSettings, config: dict[str, Any] | None = None) -> Starlette:
    """The studio over `store`; `config` is configs/studio.toml unless given (tests shrink its limits)."""
    from hilite_cli.config import load_config

    config = config or load_config("studio")
    sessions.interrupt_running(store)
    studio = Studio(store=store, settings=settings, config=config, jobs=Jobs(config["edit"]["workers"]),
                    manifests=[load_manifest(path) for path in settings.browse],
                    unavailable=unrunnable_editors(settings))

    async def home(request: Request) -> RedirectResponse:
        visitor = request.state.visitor
        return RedirectResponse("/edit" if visitor.admin else "/rate", status_code=303)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        studio.jobs.close()

    async def favicon(request: Request) -> RedirectResponse:
        """Browsers ask for /favicon.ico whatever the page says; the icon is the pages' own."""
        return RedirectResponse("/static/favicon.svg", status_code=301)

    routes = [
        Route("/", home),
        Route("/favicon.ico", favicon),
        *views_edit.routes(studio),
        *views_gallery.routes(studio),
        *views_rate.routes(studio),
        *views_browse.routes(studio),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    # Outermost first. BodyLimit sits inside AccessMiddleware so that its 413 is raised and caught
    # below the BaseHTTPMiddleware's task group.
    middleware = [
        Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(settings, config), www_redirect=False),
        Middleware(AccessMiddleware, store=store, token=settings.token),
        Middleware(BodyLimit, upload_bytes=config["uploads"]["max_bytes"],
                   other_bytes=config["requests"]["max_body_bytes"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
    app.state.studio = studio
    return app
