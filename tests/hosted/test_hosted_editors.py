"""`gemini-image:MODEL` and `openai-image:MODEL` through the real SDKs against the loopback server."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hilite_cli.models import hosted
from hilite_cli.models.base import AttemptsFailed, Editor, ModelLoadError, TextToImage
from hilite_cli.models.loader import load_model
from hilite_cli.models.registry import get_spec
from hilite_cli.records import RecordError
from support.loopback import ImageOut, ImageRefused, RateLimited

from support.hosted_images import KEY, edited_png

GEMINI = "gemini-image:gemini-2.5-flash-image"
OPENAI = "openai-image:gpt-image-1"


def _posts(server):
    return [r for r in server.requests if r.method == "POST"]


@pytest.fixture(autouse=True)
def _settings():
    hosted.configure(max_retries=2, concurrency=1)  # one request at a time: scripted replies go in seed order
    yield
    hosted.configure()


def test_gemini_edit_sends_image_seed_and_modality_and_records_provenance_and_cost(server) -> None:
    editor = load_model(GEMINI)
    assert isinstance(editor, Editor) and isinstance(editor, TextToImage)
    image = Image.new("RGB", (80, 60), (200, 10, 10))
    out = editor.edit(image, prompt="make it winter", seeds=[3, 4], params={})
    assert [im.size for im in out] == [(80, 60)] * 2  # resized back to the input
    posts = _posts(server)
    assert len(posts) == 2  # M attempts = M requests
    assert sorted(p.body["generationConfig"]["seed"] for p in posts) == [3, 4]
    assert all(p.body["generationConfig"]["responseModalities"] == ["IMAGE"] for p in posts)
    assert all(p.text() == "make it winter" and len(p.images()) == 1 for p in posts)
    sent = Image.open(__import__("io").BytesIO(posts[0].images()[0]))
    assert sent.size == (80, 60)
    fields = [im.info["hilite"] for im in out]
    assert [f["attempt"] for f in fields] == [1, 2]
    prov = fields[0]["provenance"]
    assert prov["model_version"] == "gemini-2.5-flash-image" and prov["text"] == "Here is the edit."
    assert prov["returned_size"] == [96, 64] and "SynthID" in prov["watermark"]
    assert fields[0]["cost_usd"] == pytest.approx((300 * 0.30 + 1290 * 30.0) / 1e6)


def test_openai_edit_sends_multipart_with_the_mask_as_transparency(server) -> None:
    editor = load_model(OPENAI)
    image = Image.new("RGB", (80, 60), (200, 10, 10))
    mask = np.zeros((60, 80), bool)
    mask[10:30, 20:40] = True
    reference = Image.new("RGB", (40, 40), (0, 255, 0))
    [out] = editor.edit(image, prompt="put it here", seeds=[0], params={}, mask=mask, reference=reference)
    [post] = _posts(server)
    assert post.path.endswith("/images/edits")
    form = post.form()
    assert form["model"] == "gpt-image-1" and form["prompt"] == "put it here" and form["n"] == "1"
    images = form["image[]"] if "image[]" in form else form["image"]
    assert len(images) == 2  # the reference is a second input image
    alpha = np.asarray(Image.open(__import__("io").BytesIO(form["mask"][1])))[..., 3]
    assert alpha.shape == (60, 80) and (alpha[mask] == 0).all() and (alpha[~mask] == 255).all()
    assert "seed" not in form  # the Images API takes none; `hilite models` says so
    assert out.info["hilite"]["provenance"]["revised_prompt"] == "a winter scene"
    assert out.info["hilite"]["cost_usd"] == pytest.approx((300 * 10.0 + 1290 * 40.0) / 1e6)


def test_refusal_is_a_typed_per_attempt_error_never_retried(server) -> None:
    for name in (GEMINI, OPENAI):
        server.reset()
        editor = load_model(name)
        server.script(ImageOut(edited_png(), tokens=(1, 1)), ImageRefused("depicts a real person"))
        with pytest.raises(AttemptsFailed) as info:
            editor.edit(Image.new("RGB", (32, 32)), prompt="x", seeds=[0, 1], params={})
        exc = info.value
        assert exc.kind == "blocked" and set(exc.failures) == {1}
        assert "depicts a real person" in exc.failures[1][1] and "attempt 2 (seed 1)" in exc.failures[1][1]
        assert exc.images[0] is not None and exc.images[1] is None  # the paid-for attempt is kept
        assert len(_posts(server)) == 2  # no retry of the refusal


def test_gemini_prompt_block_names_the_reason(server) -> None:
    editor = load_model(GEMINI)
    server.script(ImageRefused("policy", prompt=True))
    with pytest.raises(AttemptsFailed) as info:
        editor.edit(Image.new("RGB", (32, 32)), prompt="x", seeds=[0], params={})
    assert info.value.kind == "blocked" and "PROHIBITED_CONTENT" in info.value.message and "policy" in info.value.message


def test_rate_limit_is_retried_and_the_key_never_appears(server) -> None:
    editor = load_model(OPENAI)
    server.script(RateLimited(retry_after=0), RateLimited(retry_after=0))
    [out] = editor.edit(Image.new("RGB", (32, 32)), prompt="x", seeds=[0], params={})
    assert out.size == (32, 32) and len(_posts(server)) == 3
    server.reset()
    editor = load_model(GEMINI)
    server.script(*[RateLimited()] * 5)
    with pytest.raises(AttemptsFailed) as info:
        editor.edit(Image.new("RGB", (32, 32)), prompt=f"say {KEY}", seeds=[0], params={})
    assert info.value.kind == "http_error" and "gave up after 3 attempts" in info.value.message
    assert KEY not in info.value.message


def test_unknown_model_is_one_load_error(server) -> None:
    server.known_models = {"gemini-2.5-flash-image", "gpt-image-1"}
    for name in ("gemini-image:no-such-model", "openai-image:no-such-model"):
        with pytest.raises(ModelLoadError) as info:
            load_model(name)
        assert info.value.kind == "unknown_model" and "does not know the image model 'no-such-model'" in info.value.message
    assert not _posts(server)


def test_mask_checks_and_resizing_up_front(server, capsys) -> None:
    gemini, openai = load_model(GEMINI), load_model(OPENAI)
    image = Image.new("RGB", (40, 30))
    with pytest.raises(RecordError, match="takes no mask"):
        gemini.edit(image, prompt="x", seeds=[0], params={}, mask=np.ones((30, 40), bool))
    with pytest.raises(RecordError, match="the mask is 20x10 but the image is 40x30"):
        openai.edit(image, prompt="x", seeds=[0], params={}, mask=np.ones((10, 20), bool))
    assert not _posts(server)
    big = Image.new("RGB", (5000, 100))
    [out] = openai.edit(big, prompt="x", seeds=[0], params={})
    assert out.size == (5000, 100)
    assert Image.open(__import__("io").BytesIO(_posts(server)[0].form()["image"][1])).size == (4096, 82)
    assert "5000x100, longer than the API takes (4096 px): sent resized to 4096x82" in capsys.readouterr().err
    assert out.info["hilite"]["provenance"]["input_resized_from"] == [5000, 100]


def test_t2i_source_asks_the_nearest_aspect_and_returns_the_planned_size(server) -> None:
    gen = load_model("gemini-t2i:gemini-2.5-flash-image")
    assert get_spec("gemini-t2i:gemini-2.5-flash-image").kind == "t2i"
    [img] = gen.generate("a cat on a sofa", seeds=[7], width=1536, height=1024, params={})
    assert img.size == (1536, 1024)
    [post] = _posts(server)
    assert post.body["generationConfig"]["imageConfig"]["aspectRatio"] == "3:2" and post.images() == []
    server.reset()
    gen = load_model("openai-t2i:gpt-image-1")
    [img] = gen.generate("a cat", seeds=[0], width=768, height=1152, params={})
    [post] = _posts(server)
    assert post.path.endswith("/images/generations") and post.body["size"] == "1024x1536" and img.size == (768, 1152)


def test_unpriced_model_has_null_cost_with_reason(server) -> None:
    editor = load_model("openai-image:gpt-image-1.5")
    [out] = editor.edit(Image.new("RGB", (16, 16)), prompt="x", seeds=[0], params={})
    assert out.info["hilite"]["cost_usd"] is None
    assert "no price for openai-image:gpt-image-1.5" in out.info["hilite"]["cost_reason"]
    assert hosted.price_missing("openai-image:gpt-image-1.5") and hosted.price_missing(GEMINI) is None


def test_timeout_is_a_typed_failure_after_the_retries(server) -> None:
    hosted.configure(timeout=0.3, max_retries=1, concurrency=1)
    editor = load_model(GEMINI)
    server.script(ImageOut(edited_png(), delay=1.0), ImageOut(edited_png(), delay=1.0))
    with pytest.raises(AttemptsFailed) as info:
        editor.edit(Image.new("RGB", (16, 16)), prompt="x", seeds=[0], params={})
    assert info.value.kind == "timeout" and "gave up after 2 attempts" in info.value.message


def test_a_reply_that_is_not_an_image_is_an_unparsed_attempt(server) -> None:
    for name in (GEMINI, OPENAI):
        server.reset()
        editor = load_model(name)
        server.script(ImageOut(b"<html>proxy error</html>"))
        with pytest.raises(AttemptsFailed) as info:
            editor.edit(Image.new("RGB", (16, 16)), prompt="x", seeds=[0], params={})
        assert info.value.kind == "unparsed", info.value.message
