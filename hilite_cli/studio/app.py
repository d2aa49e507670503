"""The studio's Starlette app: wiring only (middleware, routes, the worker pool's life)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from hilite_cli.store import Store, sessions
from hilite_cli.studio import views_browse, views_edit, views_gallery, views_rate
from hilite_cli.studio.browse import load_manifest
from hilite_cli.studio.context import HERE, Studio, StudioSettings
from hilite_cli.studio.jobs import Jobs
from hilite_cli.studio.security import AccessMiddleware

__all__ = ["StudioSettings", "create_app"]


def create_app(store: Store, settings: StudioSettings) -> Starlette:
    from hilite_cli.config import load_config

    config = load_config("studio")
    sessions.interrupt_running(store)
    studio = Studio(store=store, settings=settings, config=config, jobs=Jobs(config["edit"]["workers"]),
                    manifests=[load_manifest(path) for path in settings.browse])

    async def home(request: Request) -> RedirectResponse:
        visitor = request.state.visitor
        return RedirectResponse("/edit" if visitor.admin else "/rate", status_code=303)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        studio.jobs.close()

    routes = [
        Route("/", home),
        *views_edit.routes(studio),
        *views_gallery.routes(studio),
        *views_rate.routes(studio),
        *views_browse.routes(studio),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(AccessMiddleware, store=store, token=settings.token)])
    app.state.studio = studio
    return app
