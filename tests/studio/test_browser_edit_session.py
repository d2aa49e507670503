"""A whole edit session in a real browser: upload, mask, translate, moved sliders, run on `classic`
and the tiny random-weight InstructPix2Pix, pick with feedback, a second step, revert, publish, and
find it in the gallery by a keyword."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from support.photos import save_photo

from hilite_cli.store import gallery, sessions
from hilite_cli.studio.app import StudioSettings

TIMEOUT_MS = 60_000


def _shot(page, tmp_path: Path, name: str) -> Path:
    """Screenshot to tmp_path (and to $HILITE_STUDIO_SHOTS when set, for people to look at)."""
    path = tmp_path / name
    page.locator("#toast.show").wait_for(state="detached")
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    if os.environ.get("HILITE_STUDIO_SHOTS"):
        shutil.copyfile(path, Path(os.environ["HILITE_STUDIO_SHOTS"]) / name)
    return path


def _run_and_pick(page, instruction: str, step: int, shot: Path | None = None) -> None:
    page.fill("#instruction", instruction)
    page.click("#run")
    page.wait_for_selector(f'#steps li[data-number="{step}"].ready', timeout=TIMEOUT_MS)
    cards = page.locator("#candidates .candidate")
    assert cards.count() == 3  # classic: 1 whatever the attempts; InstructPix2Pix: one per seed
    assert page.locator("#candidates .model").count() == 0  # no editor named before the pick
    cards.first.click()
    page.click('.scale[data-name="matches_instruction"] .score[data-value="5"]')
    page.click('.scale[data-name="matches_original"] .score[data-value="4"]')
    page.fill("#comment", f"step {step} looks right")
    if shot:
        _shot(page, shot, "studio-edit.png")
    page.click("#keep")
    page.wait_for_selector(f'#steps li[data-number="{step}"].picked', timeout=TIMEOUT_MS)
    assert sorted(page.locator("#candidates .model").all_inner_texts()) == ["classic", "instruct-pix2pix",
                                                                           "instruct-pix2pix"]


def test_whole_edit_session_in_chromium(serve, browser, tmp_path: Path, tiny_ip2p_weights: Path) -> None:
    server = serve(StudioSettings(models=["classic", "instruct-pix2pix"], seeds=2,
                                  weights={"instruct-pix2pix": tiny_ip2p_weights}))
    base = save_photo(tmp_path, "astronaut", 48)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # 1. upload the base image and start a session
    page.goto(f"{server.url}/edit")
    page.fill("#session-name", "trip")
    page.set_input_files("#base-file", str(base))
    page.click("#start-button")
    page.wait_for_url("**/edit?session=trip")
    page.wait_for_selector("#base-pad canvas.pad-overlay")

    # 2. a box mask on the base image
    page.click("#tool-box")
    box = page.locator("#base-pad canvas.pad-overlay").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.7, steps=4)
    page.mouse.up()

    # 3. translate: the intent and one prompt per editor, editors unnamed
    page.fill("#instruction", "make it black and white")
    page.click("#translate")
    page.wait_for_selector("#intent", timeout=TIMEOUT_MS)
    assert page.inner_text("#intent") == "general editing"
    translation = page.inner_text("#translation")
    assert "Editor 1" in translation and "Editor 2" in translation
    assert "classic" not in translation and "instruct-pix2pix" not in translation

    # 4. move two sliders (levels 0–10 on every model's own scale; one step keeps the tiny editor fast)
    page.fill("#knob-steps", "1")
    page.fill("#knob-text_influence", "3")
    assert (page.inner_text("#out-steps"), page.inner_text("#out-text_influence")) == ("1", "3")

    # 5. run, pick, feedback (a)–(d); then a second step from the picked image
    _run_and_pick(page, "make it black and white", 1)
    first = sessions.steps(server.store, "trip")[0]
    params = {c["model"]: c["params"] for c in first["candidates"]}
    assert first["knobs"] == {"steps": 1, "text_influence": 3.0}  # image influence left at "model default"
    # configs/models.toml: classic's blend weight 0.1 … 1.0 and InstructPix2Pix's guidance 3 … 12 over 0–10
    assert (params["classic"]["text_influence"], params["classic"]["native"]) == (3.0, {"strength": 0.37})
    assert params["instruct-pix2pix"]["native"] == {"num_inference_steps": 1, "guidance_scale": 5.7,
                                                    "image_guidance_scale": 1.5}
    _run_and_pick(page, "make it sepia", 2, shot=tmp_path)

    # 6. revert to step 1: step 2 stays in the history, marked reverted
    page.click('#steps .revert[data-step="1"]')
    page.wait_for_selector('#steps li[data-number="2"].reverted', timeout=TIMEOUT_MS)
    first = sessions.steps(server.store, "trip")[0]
    assert sessions.current_image(server.store, "trip") == (first["picked_image"], 1)
    assert first["mask"] is not None  # the drawn mask reached the store as an image
    assert first["feedback"]["comment"] == "step 1 looks right"

    # 7. publish, then find it in the gallery by a word of its original prompt
    page.fill("#pub-title", "Astronaut in grey")
    page.fill("#pub-description", "first light")
    page.select_option("#pub-satisfaction", "4")
    page.click("#publish")
    page.wait_for_selector("#publication-link", timeout=TIMEOUT_MS)
    [published] = gallery.search(server.store, "black")
    assert [s["instruction"] for s in published["workflow"]] == ["make it black and white"]

    page.goto(f"{server.url}/gallery")
    page.fill("#gallery-q", "black")
    page.click("#gallery-search")
    page.wait_for_url("**/gallery?q=black*")
    assert page.locator(".card h3").all_inner_texts() == ["Astronaut in grey"]
    _shot(page, tmp_path, "studio-gallery.png")
    page.click(".card .open")
    page.wait_for_selector("#modal .modal-step")
    assert "make it black and white" in page.inner_text("#modal-steps")
    assert gallery.search(server.store, "sepia") == []  # the reverted step is not part of the publication
    assert errors == []
