"""Edit (HILITE modules 1–5): upload, masks, Translate, Run in the background, pick + feedback,
steps with revert, publish. Until a step is picked, nothing sent to the browser names a model."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from hilite_cli.images import ImageError
from hilite_cli.store import StoreError, editing, gallery, sessions
from hilite_cli.store.db import is_int
from hilite_cli.studio.context import Studio, error, json_body

KNOB_LIMITS = {"steps": (1, 100), "text_influence": (0, 10), "image_influence": (0, 10)}
# Why an editor gave no candidate, by error kind, in words that do not name it (before the pick).
FAILURE_WORDS = {
    "weights_missing": "weights not here",
    "missing_dependency": "a package is not installed",
    "unsupported_instruction": "refused the instruction",
    "missing_input": "needs a mask or reference this edit lacks",
    "model_output": "returned a wrong output",
}


def check_knobs(raw: Any) -> dict[str, Any]:
    """Three sliders; null = the model's default. Levels 0–10 for the two influences."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError("`knobs` must be an object")
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in KNOB_LIMITS:
            raise ValueError(f"unknown knob `{name}`; knobs are {', '.join(KNOB_LIMITS)}")
        if value is None:
            continue
        low, high = KNOB_LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise ValueError(f"`{name}` must be a number {low}–{high}, got {value!r}")
        out[name] = int(value) if name == "steps" else float(value)
    return out


def _prompt_text(model: dict[str, Any]) -> str:
    if model.get("source_prompt"):
        return f"{model['source_prompt']} → {model.get('target_prompt')}"
    return model.get("prompt") or "(no prompt: this editor takes none)"


def public_route(route: dict[str, Any] | None, reveal: bool) -> dict[str, Any] | None:
    """Intent and the prompt written for each editor; editors are numbered, named only when `reveal`."""
    if route is None:
        return None
    prompts = [{"label": m["name"] if reveal else f"Editor {i + 1}", "prompt": _prompt_text(m)}
               for i, m in enumerate(route["models"])]
    return {"intent": route["intent"], "router": route.get("router"), "prompts": prompts}


def failure_summary(route: dict[str, Any] | None) -> str | None:
    """"2 of 6 editors failed: weights not here (2)": how many and why, naming no editor and no slot."""
    kinds = (route or {}).get("failed")
    if not kinds:
        return None
    counts: dict[str, int] = {}
    for kind in kinds:
        words = FAILURE_WORDS.get(kind, kind.replace("_", " "))
        counts[words] = counts.get(words, 0) + 1
    why = ", ".join(f"{words} ({n})" for words, n in counts.items())
    return f"{len(kinds)} of {len(route['models'])} editors failed: {why}. They are named once you pick."


def public_step(step: dict[str, Any]) -> dict[str, Any]:
    """What the browser may see of a step: slots and images; models, seeds and params once picked."""
    picked = step["pick"] is not None
    candidates = []
    for c in step["candidates"] or []:
        entry = {"slot": c["slot"], "image": f"/img/{c['image']}"}
        if picked:
            entry |= {"model": c["model"], "seed": c["seed"], "params": c["params"], "prompt": c["prompt"]}
        candidates.append(entry)
    problem = step["error"]
    if problem and step["status"] != "failed" and not picked:
        problem = failure_summary(step["route"]) or "some editors failed; they are named once you pick"
    return {
        "id": step["id"], "number": step["number"], "status": step["status"], "reverted": step["reverted"],
        "instruction": step["instruction"], "knobs": step["knobs"], "route": public_route(step["route"], picked),
        "candidates": candidates, "pick": step["pick"], "feedback": step["feedback"], "error": problem,
        "input_image": f"/img/{step['input_image']}",
        "picked_image": f"/img/{step['picked_image']}" if step["picked_image"] else None,
    }


def session_view(studio: Studio, name: str) -> dict[str, Any]:
    current, number = sessions.current_image(studio.store, name)
    session = sessions.get_session(studio.store, name)
    return {"name": name, "base_image": f"/img/{session['base_image']}", "current_image": f"/img/{current}",
            "current_step": number, "steps": [public_step(s) for s in sessions.steps(studio.store, name)]}


async def read_upload(studio: Studio, request: Request, field: str) -> tuple[str, Any]:
    """(blob id, form) of the image in `field`, through the stages' image guard. The body's size is
    bounded before this runs (limits.BodyLimit), so reading the file whole is reading at most that."""
    form = await request.form(max_files=2, max_fields=20)
    upload = form.get(field)
    if upload is None or isinstance(upload, str):
        raise ValueError(f"no image file in the `{field}` field")
    data = await upload.read()
    name = upload.filename or field
    blob = await run_in_threadpool(studio.store.blobs.put_bytes, data, name=name,
                                   max_pixels=studio.config["uploads"]["max_pixels"])
    return blob, form


def routes(studio: Studio) -> list[Route]:
    store = studio.store

    async def edit_page(request: Request) -> Response:
        name = request.query_params.get("session")
        try:
            view = session_view(studio, name) if name else None
        except StoreError as exc:
            return studio.page(request, "edit.html", status_code=404, session=None, problem=str(exc),
                               sessions=sessions.list_sessions(store), unavailable=studio.unavailable)
        return studio.page(request, "edit.html", session=view, problem=None, sessions=sessions.list_sessions(store),
                           unavailable=studio.unavailable)

    async def image(request: Request) -> Response:
        try:
            path = store.blobs.path(request.path_params["blob"])
        except ImageError as exc:
            return error(str(exc), 404)
        return FileResponse(path, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"})

    async def upload(request: Request) -> Response:
        try:
            blob, _ = await read_upload(studio, request, "file")
        except (ValueError, ImageError) as exc:
            return error(f"upload refused: {exc}")
        return JSONResponse({"blob": blob, "url": f"/img/{blob}"})

    async def new_session(request: Request) -> Response:
        try:
            blob, form = await read_upload(studio, request, "base")
            name = (studio.text("name", form.get("name"), "session_name") or "").strip()
            name = name or f"session-{secrets.token_hex(3)}"
            sessions.create_session(store, name, blob)
        except (ValueError, ImageError, StoreError) as exc:
            return error(f"cannot start the session: {exc}")
        return JSONResponse(session_view(studio, name))

    async def get_session(request: Request) -> Response:
        try:
            return JSONResponse(session_view(studio, request.path_params["name"]))
        except StoreError as exc:
            return error(str(exc), 404)

    def _inputs(body: dict[str, Any]) -> dict[str, str | None]:
        out = {}
        for field in ("reference", "mask", "reference_mask"):
            blob = body.get(field) or None
            if blob is not None:
                store.blobs.path(blob)  # refuses anything that is not a stored image
            out[field] = blob
        if out["reference_mask"] and not out["reference"]:
            raise ValueError("a reference mask needs a reference image")
        return out

    def _instruction(body: dict[str, Any]) -> str:
        text = body.get("instruction")
        if not isinstance(text, str) or not text.strip():
            raise ValueError("type an instruction first")
        return studio.text("instruction", text.strip())

    async def translate(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            body = await json_body(request)
            instruction, inputs = _instruction(body), _inputs(body)
            current, _ = sessions.current_image(store, name)
            task = editing.task_record(store, current, instruction, **inputs)
            routed = await run_in_threadpool(editing.translate, task, provider=studio.settings.provider)
            entries = editing.chosen_models(routed, studio.settings.models, None, studio.unavailable)
        except (ValueError, ImageError, StoreError) as exc:
            return error(str(exc))
        return JSONResponse(public_route(editing.route_summary(routed, entries), reveal=False))

    async def run(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            body = await json_body(request)
            instruction, inputs, knobs = _instruction(body), _inputs(body), check_knobs(body.get("knobs"))
            sessions.get_session(store, name)
        except (ValueError, ImageError, StoreError) as exc:
            return error(str(exc))

        def work(report: Any) -> dict[str, Any]:
            step = editing.run_step(store, name, instruction, knobs, models=studio.settings.models,
                                    seeds=studio.seeds, provider=studio.settings.provider,
                                    weights=studio.settings.weights, progress=report, loader=studio.editors,
                                    unavailable=studio.unavailable, **inputs)
            return {"step": public_step(step)}

        return JSONResponse({"job": studio.jobs.submit(work)}, status_code=202)

    async def job(request: Request) -> Response:
        state = studio.jobs.get(request.path_params["job"])
        return JSONResponse(state) if state else error("no such job", 404)

    async def pick(request: Request) -> Response:
        try:
            body = await json_body(request)
            slot = body.get("slot")
            if not isinstance(slot, str):
                raise ValueError("choose a slot")
            for field in ("comment", "offensive_description"):
                studio.text(field, body.get(field))
            step = sessions.pick(store, request.path_params["step"], slot, body)
        except (ValueError, StoreError) as exc:
            return error(str(exc))
        return JSONResponse(public_step(step))

    async def revert(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            body = await json_body(request)
            number = body.get("step")
            if not is_int(number):
                raise ValueError("`step` must be a step number")
            sessions.revert(store, name, number)
            return JSONResponse(session_view(studio, name))
        except (ValueError, StoreError) as exc:
            return error(str(exc))

    async def publish(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            body = await json_body(request)
            satisfaction = body.get("satisfaction")
            if satisfaction is not None and not is_int(satisfaction):
                raise ValueError("`satisfaction` must be 1–5")
            publication = gallery.publish(store, name, title=studio.text("title", body.get("title")) or "",
                                          description=studio.text("description", body.get("description")) or "",
                                          public=bool(body.get("public", True)), satisfaction=satisfaction)
        except (ValueError, StoreError) as exc:
            return error(str(exc))
        return JSONResponse({"publication": publication, "url": f"/gallery?open={publication}"})

    return [
        Route("/edit", edit_page),
        Route("/img/{blob}", image),
        Route("/api/uploads", upload, methods=["POST"]),
        Route("/api/sessions", new_session, methods=["POST"]),
        Route("/api/sessions/{name}", get_session),
        Route("/api/sessions/{name}/translate", translate, methods=["POST"]),
        Route("/api/sessions/{name}/run", run, methods=["POST"]),
        Route("/api/sessions/{name}/revert", revert, methods=["POST"]),
        Route("/api/sessions/{name}/publish", publish, methods=["POST"]),
        Route("/api/jobs/{job}", job),
        Route("/api/steps/{step:int}/pick", pick, methods=["POST"]),
    ]
