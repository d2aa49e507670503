"""Every page of the studio in Chromium, with something on it: no console error anywhere (a 404, a bad
`pattern`, a script error all count), and what each page shows is what the records say."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import orjson
from support.photos import save_photo

from hilite_cli.store import Store, editing, gallery, ratings, sessions
from hilite_cli.studio.app import StudioSettings

TIMEOUT_MS = 60_000


def _store(tmp_path: Path) -> tuple[Store, dict[str, str]]:
    """A session with a picked step (classic), published; a session whose step lost an editor; a rating task."""
    store = Store(tmp_path / "data")
    blob = store.blobs.put_file(save_photo(tmp_path, "astronaut", 64))
    sessions.create_session(store, "trip", blob)
    step = editing.run_step(store, "trip", "make it black and white", {"text_influence": 3}, models=["classic"])
    sessions.pick(store, step["id"], step["candidates"][0]["slot"], {"comment": "good"})
    gallery.publish(store, "trip", title="Astronaut in grey", description="first light", public=True, satisfaction=4)
    sessions.create_session(store, "lost", blob)
    # instruct-pix2pix has no weights here: one of the two editors fails, the other gives a candidate.
    editing.run_step(store, "lost", "make it black and white", {}, models=["classic", "instruct-pix2pix"])
    tokens = ratings.ensure_raters(store, ["ann", "bo"])
    ratings.add_item(store, "i0", source_image=blob, edited_image=step["candidates"][0]["image"],
                     instruction="make it black and white", category=None, record={}, raters=["ann", "bo"],
                     per_item=2)
    return store, {name: token for name, (token, _) in tokens.items()}


def _manifest(tmp_path: Path) -> Path:
    """Triplets as `mine` writes them (no `passed`) and one validated candidate that failed."""
    save_photo(tmp_path, "coffee", 48)
    save_photo(tmp_path, "rocket", 48)
    rows = [{"id": "t0", "source": "coffee.png", "edited": "rocket.png", "instruction": "make it a rocket",
             "kind": "forward", "scores": {"instruction": 4.5, "aesthetics": None}},
            {"id": "c1", "image": "coffee.png", "output": "rocket.png", "instruction": "make it a rocket",
             "passed": False, "thresholds": {}}]
    path = tmp_path / "triplets.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def _shot(page, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("HILITE_STUDIO_SHOTS"):
        shutil.copyfile(path, Path(os.environ["HILITE_STUDIO_SHOTS"]) / name)


def test_no_page_logs_a_console_error(serve, browser, tmp_path: Path) -> None:
    store, tokens = _store(tmp_path)
    server = serve(StudioSettings(browse=[str(_manifest(tmp_path))]), store=store)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"{page.url}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))

    def visit(path: str) -> None:
        page.goto(f"{server.url}{path}")
        page.wait_for_load_state("networkidle")

    # Edit: the start page, a session waiting for a pick after an editor failed, a picked one.
    visit("/edit")
    page.fill("#session-name", "bad name!")
    assert page.eval_on_selector("#session-name", "e => e.validity.patternMismatch")  # the check is on
    page.fill("#session-name", "holiday-1.b_2")
    assert not page.eval_on_selector("#session-name", "e => e.validity.patternMismatch")
    visit("/edit?session=lost")
    problem = page.locator("#step-problem")
    problem.wait_for(timeout=TIMEOUT_MS)
    assert "1 of 2 editors failed: weights not here (1)" in problem.inner_text()
    assert "instruct-pix2pix" not in page.inner_text("#results")
    assert page.locator("#candidates .candidate").count() == 1
    # no --models: the editors that cannot run here are said, and not offered
    assert "cannot run here and are not offered" in page.inner_text("#unavailable")
    _shot(page, tmp_path, "studio-edit-failed-editor.png")
    visit("/edit?session=trip")

    # Gallery, and its details: nested parameters are listed, never "[object Object]".
    visit("/gallery")
    page.click(".card .open")
    page.wait_for_selector("#modal .modal-step")
    details = page.inner_text("#modal-steps")
    assert "native: strength = " in details and "[object Object]" not in details, details
    _shot(page, tmp_path, "studio-gallery-details.png")

    # Browse: what each record says, "unknown" where it says nothing.
    visit("/browse")
    cards = page.locator(".row-card").all_inner_texts()
    assert "passed: unknown" in cards[0] and "aesthetics: null" in cards[0] and "geometric: unknown" in cards[0]
    assert "passed: no" in cards[1] and "scores: unknown" in cards[1]
    page.click(".diff-toggle")
    page.wait_for_load_state("networkidle")
    _shot(page, tmp_path, "studio-browse.png")
    visit("/browse?passed=no")

    # Rate: without a rater link, then with one.
    visit("/rate")
    visit(f"/rate?token={tokens['ann']}")
    page.wait_for_selector("#rate-form")
    _shot(page, tmp_path, "studio-rate.png")
    visit("/favicon.ico")
    assert errors == [], errors
