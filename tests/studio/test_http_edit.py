"""The edit, gallery and replay API through Starlette's TestClient: on the `classic` editor, which is
deterministic (one candidate whatever the attempts), and beside it the tiny random-weight
InstructPix2Pix, whose seeds give distinct candidates to anonymise and to shuffle."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from studio.helpers import Client, new_store, png

from hilite_cli.models.registry import load_registry
from hilite_cli.store import gallery, sessions
from hilite_cli.studio.app import StudioSettings

TWO_EDITORS = ["classic", "instruct-pix2pix"]
FAST = {"steps": 1}  # one denoising step of the tiny InstructPix2Pix (on 16-px images); `classic` takes no steps


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    c = Client(new_store(tmp_path), StudioSettings(models=["classic"], seeds=3))
    yield c
    c.close()


@pytest.fixture
def two_editors(tmp_path: Path, tiny_ip2p_weights: Path) -> Iterator[Client]:
    c = Client(new_store(tmp_path), StudioSettings(models=TWO_EDITORS, seeds=2,
                                                   weights={"instruct-pix2pix": tiny_ip2p_weights}))
    yield c
    c.close()


def _start(client: Client, name: str = "s1", size: int = 64) -> dict:
    r = client.post("/api/sessions", files={"base": ("a.png", png(size=size), "image/png")}, data={"name": name})
    assert r.status_code == 200, r.text
    return r.json()


def _run(client: Client, instruction: str, **body) -> dict:
    r = client.post("/api/sessions/s1/run", json={"instruction": instruction, **body})
    assert r.status_code == 202, r.text
    state = client.wait(r.json()["job"])
    assert state["status"] == "done", state
    return state["result"]["step"]


def test_no_model_name_reaches_the_browser_before_the_pick(two_editors: Client) -> None:
    client = two_editors
    names = list(load_registry())
    before = [_start(client, size=16)]
    translated = client.post("/api/sessions/s1/translate", json={"instruction": "make it black and white"})
    assert translated.status_code == 200
    assert translated.json()["intent"] == "general_editing"
    assert [p["label"] for p in translated.json()["prompts"]] == ["Editor 1", "Editor 2"]
    before.append(translated.text)
    step = _run(client, "make it black and white", knobs=FAST)
    # classic's 2 attempts make 1 candidate, InstructPix2Pix's 2 seeds make 2 distinct ones
    assert step["status"] == "ready" and [c["slot"] for c in step["candidates"]] == ["A", "B", "C"]
    assert all(set(c) == {"slot", "image"} for c in step["candidates"])
    assert len({c["image"] for c in step["candidates"]}) == 3
    before += [step, client.get("/api/sessions/s1").text, client.get("/edit?session=s1").text]
    leaked = [n for n in names for text in map(str, before) if f'"{n}"' in text or f"'{n}'" in text or f">{n}<" in text]
    assert leaked == []

    picked = client.post(f"/api/steps/{step['id']}/pick", json={
        "slot": "B", "matches_instruction": 5, "matches_original": 4, "offensive": True,
        "offensive_description": "nothing really", "comment": "crisp"})
    assert picked.status_code == 200, picked.text
    revealed = sorted((c["model"], c["seed"]) for c in picked.json()["candidates"])
    assert revealed == [("classic", 0), ("instruct-pix2pix", 0), ("instruct-pix2pix", 1)]
    assert [p["label"] for p in picked.json()["route"]["prompts"]] == ["instruct-pix2pix", "classic"]
    stored = sessions.get_step(client.store, step["id"])
    [kept] = [c for c in stored["candidates"] if c["slot"] == "B"]
    assert stored["pick"] == "B" and stored["picked_image"] == kept["image"]
    assert stored["feedback"] == {"matches_instruction": 5, "matches_original": 4, "offensive": True,
                                  "offensive_description": "nothing really", "comment": "crisp"}
    again = client.post(f"/api/steps/{step['id']}/pick", json={"slot": "A"})
    assert again.status_code == 400 and "not waiting for a pick" in again.json()["error"]


def test_slot_order_is_random_per_run(tmp_path: Path, tiny_ip2p_weights: Path) -> None:
    """Seeds of one editor are dealt to slots at random: over runs, slot A is not always seed 0
    (the tiny InstructPix2Pix on a 16-px image: 3 seeds, 3 distinct candidates; all 8 runs alike has
    odds 3^-7)."""
    c = Client(new_store(tmp_path), StudioSettings(models=["instruct-pix2pix"], seeds=3,
                                                   weights={"instruct-pix2pix": tiny_ip2p_weights}))
    try:
        _start(c, size=16)
        firsts = set()
        for _ in range(8):
            step = _run(c, "make it black and white", knobs=FAST)
            stored = sessions.get_step(c.store, step["id"])["candidates"]
            assert sorted(x["seed"] for x in stored) == [0, 1, 2] and len({x["image"] for x in stored}) == 3
            firsts.add(stored[0]["seed"])
        assert len(firsts) > 1
    finally:
        c.close()


def test_steps_revert_publish_gallery_likes_and_replay(client: Client) -> None:
    _start(client)
    one = _run(client, "make it black and white", knobs={"text_influence": 3})  # a moved slider: level 3 of 0–10
    assert [c["slot"] for c in one["candidates"]] == ["A"]  # classic is deterministic: 3 attempts, 1 candidate
    kept = client.post(f"/api/steps/{one['id']}/pick", json={"slot": "A"}).json()["candidates"][0]
    # configs/models.toml: classic's blend weight runs 0.1 (level 0) … 1.0 (level 10) in equal steps
    assert (kept["params"]["text_influence"], kept["params"]["native"]) == (3.0, {"strength": 0.37})
    assert "3 attempts asked, 1 candidate made" in kept["params"]["note"]
    two = _run(client, "make it sepia", knobs={"text_influence": None, "steps": None})
    assert two["input_image"] == sessions.get_step(client.store, one["id"])["picked_image"].join(["/img/", ""])
    assert client.post(f"/api/steps/{two['id']}/pick", json={"slot": "A", "matches_instruction": 3}).status_code == 200

    reverted = client.post("/api/sessions/s1/revert", json={"step": 1})
    assert reverted.status_code == 200
    assert [s["reverted"] for s in reverted.json()["steps"]] == [False, True]
    assert reverted.json()["current_step"] == 1
    assert client.post("/api/sessions/s1/revert", json={"step": 2}).status_code == 400  # reverted: gone

    assert client.post("/api/sessions/s1/publish", json={"title": ""}).status_code == 400
    pub = client.post("/api/sessions/s1/publish", json={"title": "Moon walk", "description": "in grey",
                                                         "public": True, "satisfaction": 5}).json()["publication"]
    _start(client, "other")
    other = client.post("/api/sessions/other/run", json={"instruction": "make it brighter"})
    step = client.wait(other.json()["job"])["result"]["step"]
    client.post(f"/api/steps/{step['id']}/pick", json={"slot": "A"})
    client.post("/api/sessions/other/publish", json={"title": "Sunny", "description": "brighter"})
    for _ in range(2):
        assert client.post(f"/api/publications/{pub}/like", json={}).status_code == 200

    page = client.get("/gallery", params={"q": "black"})
    assert "Moon walk" in page.text and "Sunny" not in page.text
    assert client.get("/gallery", params={"q": "sepia"}).text.count('class="card"') == 0  # reverted step
    assert client.get("/gallery", params={"q": 'black" OR *'}).status_code == 200  # FTS syntax is inert
    by_likes = [p["title"] for p in gallery.search(client.store, "", "likes")]
    assert by_likes == ["Moon walk", "Sunny"]
    assert [p["title"] for p in gallery.search(client.store, "", "date")] == ["Sunny", "Moon walk"]
    detail = client.get(f"/api/publications/{pub}").json()
    assert detail["likes"] == 2 and [s["instruction"] for s in detail["steps"]] == ["make it black and white"]
    assert detail["steps"][0]["model"] == "classic" and detail["steps"][0]["prompt"] == "Make it black and white."

    assert client.http.app.state.studio.editors.names() == ["classic"]  # loaded once, reused by every Run
    replay = client.post(f"/api/publications/{pub}/replay", files={"image": ("c.png", png("coffee"), "image/png")})
    assert replay.status_code == 202
    state = client.wait(replay.json()["job"])
    assert state["status"] == "done", state
    replayed = sessions.steps(client.store, state["result"]["session"])
    assert [(s["instruction"], s["status"]) for s in replayed] == [("make it black and white", "picked")]


def test_bad_requests_are_refused_with_a_reason(client: Client) -> None:
    _start(client)
    cases = [
        ("/api/sessions/s1/run", {"instruction": "x", "knobs": {"text_influence": 11}}, "0–10"),
        ("/api/sessions/s1/run", {"instruction": "x", "knobs": {"guidance": 1}}, "unknown knob"),
        ("/api/sessions/s1/run", {"instruction": "  "}, "instruction"),
        ("/api/sessions/s1/run", {"instruction": "x", "mask": "../../hilite.sqlite"}, "not an image id"),
        ("/api/sessions/nope/run", {"instruction": "x"}, "no session"),
        ("/api/sessions/s1/translate", {"instruction": "x", "reference_mask": "0" * 16}, "no image"),
    ]
    for url, body, reason in cases:
        r = client.post(url, json=body)
        assert r.status_code == 400 and reason in r.json()["error"], (body, r.text)
    assert client.post("/api/sessions/s1/run", content=b"[1]", headers={"content-type": "application/json"}
                       ).status_code == 400
    dup = client.post("/api/sessions", files={"base": ("a.png", png(), "image/png")}, data={"name": "s1"})
    assert dup.status_code == 400 and "already exists" in dup.json()["error"]


def test_a_step_whose_editors_all_fail_says_why(client: Client) -> None:
    _start(client)
    step = _run(client, "remove the person")  # classic refuses removal without a mask
    assert step["status"] == "failed" and step["candidates"] == []
    assert "mask" in step["error"]


def test_a_step_left_running_by_a_stopped_studio_is_marked_interrupted(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    sessions.create_session(store, "s1", store.blobs.put_bytes(png()))
    step = sessions.start_step(store, "s1", input_image=sessions.current_image(store, "s1")[0],
                               instruction="make it black and white", knobs={})
    Client(store, StudioSettings()).close()
    again = sessions.get_step(store, step["id"])
    assert again["status"] == "failed" and again["error"].startswith("interrupted")


def test_without_models_only_editors_that_can_run_here_are_offered(tmp_path: Path) -> None:
    """As `hilite edit` without --models: editors the registry check says cannot run here (no weights in
    the suite) are neither translated for nor run; the edit page says how many and why."""
    c = Client(new_store(tmp_path), StudioSettings())
    unavailable = c.http.app.state.studio.unavailable
    assert "classic" not in unavailable and "weights not in the HF cache" in unavailable["instruct-pix2pix"]
    _start(c)
    translated = c.post("/api/sessions/s1/translate", json={"instruction": "make it black and white"}).json()
    assert [p["label"] for p in translated["prompts"]] == ["Editor 1"]  # classic only, of the 6 routed
    state = c.wait(c.post("/api/sessions/s1/run", json={"instruction": "make it black and white"}).json()["job"])
    step = state["result"]["step"]
    assert (state["total"], step["status"], step["error"], len(step["candidates"])) == (1, "ready", None, 1)
    page = c.get("/edit", params={"session": "s1"}).text
    assert f"{len(unavailable)} editor(s) cannot run here and are not offered" in page
    assert "instruct-pix2pix</strong>: weights not in the HF cache" in page
    c.close()


def test_failed_editors_are_counted_with_why_before_the_pick(tmp_path: Path) -> None:
    """An editor named with --models that fails: the step says how many failed and why, naming none
    (no slot can be told apart), and names them once picked."""
    c = Client(new_store(tmp_path), StudioSettings(models=TWO_EDITORS))  # no weights for instruct-pix2pix
    _start(c)
    step = c.wait(c.post("/api/sessions/s1/run", json={"instruction": "make it black and white"}).json()["job"])
    step = step["result"]["step"]
    assert step["error"] == "1 of 2 editors failed: weights not here (1). They are named once you pick."
    assert len(step["candidates"]) == 1
    picked = c.post(f"/api/steps/{step['id']}/pick", json={"slot": "A"}).json()
    assert "instruct-pix2pix" in picked["error"]
    c.close()
