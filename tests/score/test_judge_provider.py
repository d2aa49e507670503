"""Judge scores through the real provider layer (google-genai and openai SDKs) against the loopback server."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.loopback import Blocked, Loopback, Received, Refusal

from hilite_cli.providers import get_provider
from hilite_cli.stages.score_dataset import DatasetInput, score_datasets
from hilite_cli.stages.score_judge import provider_judge


def answer(request: Received):
    """Score by instruction; block or refuse some, answer garbage for one."""
    text = request.text()
    if "invert block 1 '" in text:
        return Blocked() if request.kind == "gemini" else Refusal()
    if "invert block 2 '" in text:
        return "the edit looks fine to me"
    return '{"InstructionAdherence": 4.5, "ImageAesthetic": 4.0}'


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GEMINI_API_KEY", "test-key-not-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "test-key-not-secret")
    with Loopback(answer=answer) as srv:
        yield srv


@pytest.mark.parametrize(("spec", "not_ok"), [("gemini:gemini-2.5-flash", "blocked"), ("openai:gpt-4.1", "refused")])
def test_judge_scores_through_a_provider(server: Loopback, make_dataset, spec: str, not_ok: str) -> None:
    manifest = make_dataset("j", 4)
    url = server.url if spec.startswith("gemini") else server.openai_url
    provider = get_provider(spec, base_url=url, max_retries=0)
    try:
        run = score_datasets(
            [DatasetInput("j", str(manifest))], metrics=["judge"], judge=provider_judge(provider), judge_spec=spec
        )
    finally:
        provider.close()
    by_id = {r["id"]: r["eval"] for r in run.scored}
    assert by_id["j-0"]["scores"] == {"instruction": 4.5, "aesthetics": 4.0, "geometric": pytest.approx(18**0.5), "source": "judge"}
    assert by_id["j-1"]["judge"]["status"] == not_ok and by_id["j-1"]["scores"]["instruction"] is None
    assert by_id["j-2"]["judge"]["status"] == "unparsed"
    assert by_id["j-2"]["judge"]["raw"] == "the edit looks fine to me"
    entry = run.results["datasets"]["j"]
    assert entry["n_scored"] == 2 and entry["metrics"]["geometric"]["missing"] == 2
    assert entry["judge_status"] == {"ok": 2, not_ok: 1, "unparsed": 1}
    # A.2 went out with the original then the edited image, exactly the bytes on disk
    request = next(r for r in server.requests if "invert block 0 '" in r.text())
    folder = Path(manifest).parent
    assert request.images() == [(folder / "src0.png").read_bytes(), (folder / "edit0.png").read_bytes()]
    assert by_id["j-0"]["judge"]["images"] == ["original png", "original png"]  # and the record says so
    assert "Instruction Adherence Score" in request.text()
    from hilite_cli.prompts import prompt_version

    assert by_id["j-0"]["judge"]["prompt"] == "a2_evaluation"
    assert by_id["j-0"]["judge"]["prompt_version"] == prompt_version("a2_evaluation")


def test_rescoring_an_unchanged_dataset_hits_the_cache(server: Loopback, make_dataset) -> None:
    manifest = make_dataset("k", 3)
    inputs = [DatasetInput("k", str(manifest))]
    for expected_requests in (3, 4):
        provider = get_provider("gemini:gemini-2.5-flash", base_url=server.url, max_retries=0)
        try:
            run = score_datasets(inputs, metrics=["judge"], judge=provider_judge(provider))
        finally:
            provider.close()
        assert len(server.requests) == expected_requests
    # the ok answer and the prose reply are replayed; a safety block is asked again
    cached = {r["eval"]["judge"]["status"]: r["eval"]["judge"]["cached"] for r in run.scored}
    assert cached == {"ok": True, "blocked": False, "unparsed": True}


def test_judge_gets_bmp_as_png_and_an_unreadable_image_fails_only_its_record(server: Loopback, make_dataset) -> None:
    import io

    import orjson
    from PIL import Image

    manifest = make_dataset("b", 4)
    folder = Path(manifest).parent
    records = [orjson.loads(line) for line in manifest.read_bytes().splitlines()]
    Image.open(folder / "edit0.png").save(folder / "edit0.bmp")
    (folder / "edit3.bmp").write_bytes(b"BM not really a bitmap")
    records[0]["edited"], records[3]["edited"] = "edit0.bmp", "edit3.bmp"
    manifest.write_bytes(b"\n".join(orjson.dumps(r) for r in records) + b"\n")
    provider = get_provider("gemini:gemini-2.5-flash", base_url=server.url, max_retries=0)
    try:
        run = score_datasets([DatasetInput("b", str(manifest))], metrics=["judge"], judge=provider_judge(provider))
    finally:
        provider.close()
    assert sorted(r["id"] for r in run.scored) == ["b-0", "b-1", "b-2"]
    [failed] = run.failed
    assert failed["id"] == "b-3" and failed["error"]["kind"] == "bad_image" and "edit3.bmp" in failed["error"]["message"]
    assert next(r for r in run.scored if r["id"] == "b-0")["eval"]["scores"]["instruction"] == 4.5
    request = next(r for r in server.requests if "invert block 0 '" in r.text())
    sent = request.images()[1]
    assert request.image_mimes()[1] == "image/png"
    assert Image.open(io.BytesIO(sent)).tobytes() == Image.open(folder / "edit0.bmp").convert("RGB").tobytes()
