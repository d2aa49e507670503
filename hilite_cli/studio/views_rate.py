"""Rate: a rater, known by a personal token, scores their own tasks 1–5 on Instruction and
Aesthetics (NHR 3.3), may skip or comment, and sees their progress."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from hilite_cli.images import ImageError
from hilite_cli.store import StoreError, ratings
from hilite_cli.studio.context import Studio, error, json_body


def routes(studio: Studio) -> list[Route]:
    store = studio.store

    async def rate_page(request: Request) -> Response:
        rater = request.state.visitor.rater
        if rater is None:
            return studio.page(request, "rate.html", task=None, progress=None, problem=(
                "Open this page with your personal rater link (/rate?token=…); `hilite rate-tasks` prints them."))
        tasks = ratings.tasks(store, rater)
        pending = [t for t in tasks if t["status"] == "pending"]
        return studio.page(request, "rate.html", task=pending[0] if pending else None,
                           progress=ratings.progress(store, rater), problem=None)

    async def rate_image(request: Request) -> Response:
        rater = request.state.visitor.rater
        which = request.path_params["which"]
        if rater is None or which not in ("source", "edited"):
            return error("not found", 404)
        try:
            task = ratings.assignment(store, rater, request.path_params["item"])
            path = store.blobs.path(task[f"{which}_image"])
        except (StoreError, ImageError):
            return error("not found", 404)
        return FileResponse(path, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"})

    async def rate(request: Request) -> Response:
        rater = request.state.visitor.rater
        if rater is None:
            return error("rating needs a rater token", 403)
        try:
            body = await json_body(request)
            ratings.rate(store, rater, str(body.get("item")), instruction=body.get("instruction"),
                         aesthetics=body.get("aesthetics"), skip=bool(body.get("skip")),
                         comment=studio.text("comment", body.get("comment")))
        except (ValueError, StoreError) as exc:
            return error(str(exc))
        return JSONResponse({"progress": ratings.progress(store, rater)})

    return [
        Route("/rate", rate_page),
        Route("/rate/img/{item}/{which}", rate_image),
        Route("/api/rate", rate, methods=["POST"]),
    ]
