"""Browse: page through the --browse manifests with filters; source beside edited; |I_e − I_0|."""

from __future__ import annotations

import io

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from hilite_cli.images import ImageError
from hilite_cli.studio.browse import Filters, choices, difference_map
from hilite_cli.studio.context import Studio, error
from hilite_cli.studio.files import Refused


def routes(studio: Studio) -> list[Route]:
    manifests = studio.manifests
    page_size = studio.config["browse"]["page_size"]

    def _manifest(raw: str | None) -> int:
        try:
            index = int(raw or 0)
        except ValueError:
            raise ValueError(f"`m` must be a manifest number, got {raw!r}") from None
        if not 0 <= index < len(manifests):
            raise ValueError(f"no manifest {index}; {len(manifests)} loaded (hilite studio --browse FILE)")
        return index

    async def browse_page(request: Request) -> Response:
        if not manifests:
            return studio.page(request, "browse.html", manifest=None, problem=(
                "No manifest loaded: start the studio with --browse triplets.jsonl (repeatable)."))
        q = request.query_params
        try:
            index = _manifest(q.get("m"))
            filters = Filters.from_query(q)
            page = max(1, int(q.get("page") or 1))
        except ValueError as exc:
            return studio.page(request, "browse.html", status_code=400, manifest=None, problem=str(exc))
        manifest = manifests[index]
        rows = [r for r in manifest.rows if filters.keep(r)]
        pages = max(1, -(-len(rows) // page_size))
        page = min(page, pages)
        shown = rows[(page - 1) * page_size: page * page_size]
        return studio.page(request, "browse.html", manifest=manifest, index=index, manifests=manifests,
                           rows=shown, total=len(rows), page=page, pages=pages, query=dict(q),
                           choices=choices(manifest), problem=None)

    async def browse_file(request: Request) -> Response:
        try:
            manifest = manifests[_manifest(request.path_params["m"])]
            path = manifest.files.resolve(request.query_params.get("path", ""))
        except (ValueError, Refused) as exc:
            return error(f"refused: {exc}", 404)
        return FileResponse(path)

    async def browse_diff(request: Request) -> Response:
        try:
            manifest = manifests[_manifest(request.path_params["m"])]
            row = next((r for r in manifest.rows if r.number == request.path_params["row"]), None)
            if row is None or not (row.source and row.edited):
                raise ValueError("this row has no source and edited image to compare")
            source, edited = manifest.files.resolve(row.source), manifest.files.resolve(row.edited)
            image = await run_in_threadpool(difference_map, source, edited)
        except (ValueError, Refused, ImageError) as exc:
            return error(f"no difference map: {exc}", 404)
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        return Response(buf.getvalue(), media_type="image/png")

    return [
        Route("/browse", browse_page),
        Route("/browse/{m:int}/file", browse_file),
        Route("/browse/{m:int}/diff/{row:int}", browse_diff),
    ]
