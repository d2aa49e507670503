"""Who gets in: tokens, rater tokens, CSRF, the image guard on uploads, and which files are served."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest
from starlette.testclient import TestClient
from studio.helpers import Client, new_store, png

from hilite_cli.records import max_instruction_chars
from hilite_cli.store import ratings
from hilite_cli.studio.app import StudioSettings, create_app


def test_a_token_guards_every_request(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    http = TestClient(create_app(store, StudioSettings(token="sekrit")))
    for url in ("/", "/edit", "/gallery", "/static/studio.css", "/api/sessions/x", "/img/0123456789abcdef"):
        assert http.get(url).status_code == 401, url
    assert http.get("/edit", params={"token": "wrong"}).status_code == 401
    assert http.get("/edit", headers={"Authorization": "Bearer sekrit"}).status_code == 200
    first = http.get("/edit", params={"token": "sekrit"})
    assert first.status_code == 200 and "hilite_token" in first.cookies
    assert http.get("/gallery").status_code == 200  # the cookie carries it from now on


def test_state_changing_requests_need_the_csrf_token(tmp_path: Path) -> None:
    client = Client(new_store(tmp_path), StudioSettings())
    files = {"base": ("a.png", png(), "image/png")}
    assert client.http.post("/api/sessions", files=files).status_code == 403
    assert client.http.post("/api/sessions", files=files, headers={"X-CSRF-Token": "forged"}).status_code == 403
    cross = client.post("/api/sessions", files=files, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403 and "cross-origin" in cross.json()["error"]
    assert client.post("/api/sessions", files=files).status_code == 200
    client.close()


def test_uploads_pass_the_image_guard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client(new_store(tmp_path), StudioSettings())
    not_image = client.post("/api/uploads", files={"file": ("x.png", b"<?php echo 1; ?>", "image/png")})
    assert not_image.status_code == 400 and "x.png: not a readable image" in not_image.json()["error"]
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (5000, 4000)).save(buf, format="PNG")  # 20 MP > the studio's 16 MP upload limit
    bomb = client.post("/api/uploads", files={"file": ("big.png", buf.getvalue(), "image/png")})
    assert bomb.status_code == 400 and "pixel limit" in bomb.json()["error"]
    client.close()
    config = client.http.app.state.studio.config
    small = Client(new_store(tmp_path / "b"), StudioSettings(),
                   config={**config, "uploads": {**config["uploads"], "max_bytes": 1000}})
    too_big = small.post("/api/uploads", files={"file": ("a.png", png(), "image/png")})
    assert too_big.status_code == 413
    small.close()


def test_a_rater_token_reaches_only_its_own_tasks(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    tokens = ratings.ensure_raters(store, ["ann", "bo", "cy"])
    blob = store.blobs.put_bytes(png())
    for i in range(3):
        ratings.add_item(store, f"item{i}", source_image=blob, edited_image=blob, instruction=f"edit {i}",
                         category=None, record={}, raters=["ann", "bo", "cy"], per_item=2)
    mine = {t["item"] for t in ratings.tasks(store, "ann")}
    theirs = sorted({"item0", "item1", "item2"} - mine)
    assert len(mine) == 2 and theirs  # round robin: ann has two of the three

    client = Client(store, StudioSettings(token="owner"), token=tokens["ann"][0])
    assert client.get("/edit").status_code == 403
    assert client.get("/gallery").status_code == 403
    assert client.get(f"/img/{blob}").status_code == 403
    page = client.get("/rate")
    assert page.status_code == 200 and "rater: ann" in page.text
    assert client.get(f"/rate/img/{sorted(mine)[0]}/source").status_code == 200
    assert client.get(f"/rate/img/{theirs[0]}/source").status_code == 404
    assert client.get(f"/rate/img/{sorted(mine)[0]}/record").status_code == 404
    other = client.post("/api/rate", json={"item": theirs[0], "instruction": 3, "aesthetics": 3})
    assert other.status_code == 400
    bad = client.post("/api/rate", json={"item": sorted(mine)[0], "instruction": 6, "aesthetics": 3})
    assert bad.status_code == 400 and "1–5" in bad.json()["error"]
    ok = client.post("/api/rate", json={"item": sorted(mine)[0], "instruction": 4, "aesthetics": 2})
    assert ok.json()["progress"] == {"total": 2, "done": 1, "skipped": 0, "left": 1}
    skip = client.post("/api/rate", json={"item": sorted(mine)[1], "skip": True, "comment": "unclear"})
    assert skip.json()["progress"]["left"] == 0
    assert ratings.export(store) == [{"item": sorted(mine)[0], "rater": "ann", "instruction": 4, "aesthetics": 2}]
    client.close()

    # On loopback without an access token the local user owns the studio; a rater link still
    # picks whose tasks /rate shows, and never locks the owner out.
    local = Client(store, StudioSettings(), token=tokens["bo"][0])
    assert local.get("/edit").status_code == 200
    assert "rater: bo" in local.get("/rate").text
    local.close()


@pytest.fixture
def browse_tree(tmp_path: Path) -> tuple[Path, Path]:
    """A manifest folder with two real images, a symlink that points out of it, and a secret outside."""
    root = tmp_path / "ds"
    (root / "img").mkdir(parents=True)
    (root / "img" / "src.png").write_bytes(png("astronaut"))
    (root / "img" / "out.png").write_bytes(png("coffee"))
    (root / "img" / "unnamed.png").write_bytes(png("rocket"))
    secret = tmp_path / "secret.png"
    secret.write_bytes(png("chelsea"))
    os.symlink(secret, root / "img" / "link.png")
    rows = [
        {"id": "t1", "source": "img/src.png", "edited": "img/out.png", "instruction": "make it a cup",
         "kind": "forward", "category": "style", "scores": {"instruction": 4.8, "aesthetics": 4.5}, "passed": True},
        {"id": "t2", "source": "img/src.png", "edited": "img/link.png", "instruction": "sneak",
         "kind": "inverse", "scores": {"instruction": None, "aesthetics": 2.0}, "passed": False},
        {"id": "t3", "source": str(secret), "edited": "img/out.png", "instruction": "absolute",
         "kind": "forward", "scores": {"instruction": 3.0}},
    ]
    manifest = root / "triplets.jsonl"
    manifest.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows) + b"{broken\n")
    return manifest, secret


def test_only_files_the_manifest_names_inside_its_folder_are_served(tmp_path: Path, browse_tree) -> None:
    manifest, secret = browse_tree
    client = Client(new_store(tmp_path), StudioSettings(browse=[str(manifest)]))
    assert client.get("/browse/0/file", params={"path": "img/src.png"}).status_code == 200
    refused = {
        "img/unnamed.png": "do not name",
        "img/link.png": "do not name",  # named, but its real path is outside the folder
        "../secret.png": "climb out",
        "img/../../secret.png": "climb out",
        str(secret): "absolute",
        "/etc/passwd": "absolute",
        "triplets.jsonl": "do not name",
        "": "absolute",
    }
    for path, why in refused.items():
        r = client.get("/browse/0/file", params={"path": path})
        assert r.status_code == 404 and why in r.json()["error"], (path, r.text)
    assert client.get("/browse/1/file", params={"path": "img/src.png"}).status_code == 404
    assert client.get("/img/..%2F..%2Fhilite.sqlite").status_code == 404
    assert client.get("/img/0123456789abcdef").status_code == 404
    client.close()


def test_without_a_token_only_loopback_host_names_are_served(tmp_path: Path) -> None:
    """DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 sends Host and Origin
    evil.example. Without a token, only the loopback names and the address it listens on are served."""
    store = new_store(tmp_path)
    client = Client(store, StudioSettings())
    evil = {"Host": "evil.example:8765", "Origin": "http://evil.example:8765"}
    assert client.get("/gallery", params={"private": "1"}, headers=evil).status_code == 400
    assert client.post("/api/publications/1/like", json={}, headers=evil).status_code == 400
    upload = client.post("/api/uploads", files={"file": ("a.png", png(), "image/png")}, headers=evil)
    assert upload.status_code == 400
    assert not any(store.blobs.folder.iterdir())
    for host in ("127.0.0.1:8765", "localhost:8765", "[::1]:8765", "LOCALHOST"):
        assert client.get("/gallery", params={"private": "1"}, headers={"Host": host}).status_code == 200, host
    client.close()

    listening = Client(new_store(tmp_path / "b"), StudioSettings(host="127.0.0.2"))
    assert listening.get("/edit", headers={"Host": "127.0.0.2:8765"}).status_code == 200
    assert listening.get("/edit", headers={"Host": "evil.example"}).status_code == 400
    listening.close()
    # With an access token the name does not matter: a rebinding page has no token.
    http = TestClient(create_app(new_store(tmp_path / "c"), StudioSettings(token="t")), base_url="http://studio.lan")
    assert http.get("/edit", params={"token": "t"}).status_code == 200
    http.cookies.clear()
    assert http.get("/edit", headers={"Host": "evil.example"}).status_code == 401


def test_every_write_must_come_from_this_host(tmp_path: Path) -> None:
    """Origin when the browser sends it; else Sec-Fetch-Site; else Referer; none of them is a non-browser client."""
    client = Client(new_store(tmp_path), StudioSettings())
    url, files = "/api/uploads", {"file": ("a.png", png(), "image/png")}
    refused = [{"Origin": "http://evil.example"}, {"Origin": "null"}, {"Origin": "http://127.0.0.1:9999"},
               {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
               {"Referer": "http://evil.example/page"}, {"Origin": "http://evil.example", "Sec-Fetch-Site": "same-origin"}]
    for headers in refused:
        r = client.post(url, files=files, headers=headers)
        assert r.status_code == 403 and "cross-origin" in r.json()["error"], headers
    accepted = [{"Origin": "http://127.0.0.1:8765"}, {"Sec-Fetch-Site": "same-origin"},
                {"Referer": "http://127.0.0.1:8765/edit?session=x"}, {}]
    for headers in accepted:
        assert client.post(url, files=files, headers=headers).status_code == 200, headers
    client.close()


def test_every_text_field_is_bounded(tmp_path: Path) -> None:
    """configs/studio.toml [text] (and the one instruction limit, configs/thresholds.toml [instructions]):
    a longer field is a 400 naming it, and nothing of it is stored."""
    store = new_store(tmp_path)
    tokens = ratings.ensure_raters(store, ["ann", "bo"])
    blob = store.blobs.put_bytes(png())
    ratings.add_item(store, "i0", source_image=blob, edited_image=blob, instruction="edit", category=None,
                     record={}, raters=["ann", "bo"], per_item=2)
    client = Client(store, StudioSettings(models=["classic"]), token=tokens["ann"][0])
    limits = client.http.app.state.studio.config["text"]
    long_comment = "x" * (limits["comment"] + 1)
    r = client.post("/api/rate", json={"item": "i0", "instruction": 3, "aesthetics": 3, "comment": long_comment})
    assert r.status_code == 400 and "`comment` is" in r.json()["error"]
    assert ratings.progress(store, "ann")["done"] == 0
    session = client.post("/api/sessions", files={"base": ("a.png", png(), "image/png")},
                          data={"name": "n" * (limits["session_name"] + 1)})
    assert session.status_code == 400 and "`name` is" in session.json()["error"]
    assert client.post("/api/sessions", files={"base": ("a.png", png(), "image/png")}, data={"name": "s"}).status_code == 200
    r = client.post("/api/sessions/s/translate", json={"instruction": "y" * (max_instruction_chars() + 1)})
    assert r.status_code == 400 and "`instruction` is" in r.json()["error"]
    r = client.post("/api/sessions/s/publish", json={"title": "t" * (limits["title"] + 1)})
    assert r.status_code == 400 and "`title` is" in r.json()["error"]
    r = client.post("/api/sessions/s/publish", json={"title": "ok", "description": ["not", "text"]})
    assert r.status_code == 400 and "`description` must be text" in r.json()["error"]
    client.close()
