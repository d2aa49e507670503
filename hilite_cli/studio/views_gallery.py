"""Gallery (HILITE module 6): published work, original beside final, keyword search, likes, the
modal with every step, and Replay of a published workflow on a new image."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hilite_cli.images import ImageError
from hilite_cli.store import StoreError, editing, gallery
from hilite_cli.studio.context import Studio, error
from hilite_cli.studio.views_edit import read_upload


def public_publication(p: dict[str, Any]) -> dict[str, Any]:
    steps = [{**{k: s[k] for k in ("number", "instruction", "intent", "model", "seed", "params", "prompt", "knobs",
                                   "prompts")},
              "input_image": f"/img/{s['input_image']}", "picked_image": f"/img/{s['picked_image']}"}
             for s in p["workflow"]]
    return {"id": p["id"], "title": p["title"], "description": p["description"], "public": p["public"],
            "satisfaction": p["satisfaction"], "likes": p["likes"], "session": p["session"], "created": p["created"],
            "original_image": f"/img/{p['original_image']}", "final_image": f"/img/{p['final_image']}",
            "steps": steps}


def routes(studio: Studio) -> list[Route]:
    store = studio.store

    async def gallery_page(request: Request) -> Response:
        q = request.query_params.get("q", "")
        sort = request.query_params.get("sort", "date")
        private = request.query_params.get("private") == "1"
        try:
            found = gallery.search(store, q, sort, include_private=private)
        except StoreError as exc:
            return studio.page(request, "gallery.html", status_code=400, items=[], q=q, sort="date",
                               private=private, problem=str(exc))
        return studio.page(request, "gallery.html", items=[public_publication(p) for p in found], q=q, sort=sort,
                           private=private, problem=None)

    async def publication(request: Request) -> Response:
        try:
            return JSONResponse(public_publication(gallery.get(store, request.path_params["id"])))
        except StoreError as exc:
            return error(str(exc), 404)

    async def like(request: Request) -> Response:
        try:
            return JSONResponse({"likes": gallery.like(store, request.path_params["id"])})
        except StoreError as exc:
            return error(str(exc), 404)

    async def replay(request: Request) -> Response:
        try:
            published = gallery.get(store, request.path_params["id"])
            blob, _ = await read_upload(studio, request, "image")
        except (ValueError, ImageError, StoreError) as exc:
            return error(f"cannot replay: {exc}")
        name = f"replay-{published['id']}-{secrets.token_hex(3)}"

        def work(report: Any) -> dict[str, Any]:
            editing.replay(store, published, blob, name, progress=report, loader=studio.editors,
                           seeds=studio.seeds, weights=studio.settings.weights)
            return {"session": name, "url": f"/edit?session={name}"}

        return JSONResponse({"job": studio.jobs.submit(work), "session": name}, status_code=202)

    return [
        Route("/gallery", gallery_page),
        Route("/api/publications/{id:int}", publication),
        Route("/api/publications/{id:int}/like", like, methods=["POST"]),
        Route("/api/publications/{id:int}/replay", replay, methods=["POST"]),
    ]
