"""The soft pre-filter's order (A.2 thresholds, A.3 + A.4, low-level) through a real OpenAI client."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image
from support.loopback import Loopback, Raw

from hilite_cli.images import encode_image
from hilite_cli.providers import get_provider
from hilite_cli.stages.judging import Thresholds
from hilite_cli.stages.mine.prefilter import Prefilter

T = Thresholds(aesthetics=4.7, instruction=4.7)


@pytest.fixture
def pair() -> tuple[np.ndarray, np.ndarray]:
    source = np.full((32, 32, 3), 100, np.uint8)
    edited = source.copy()
    edited[8:20, 8:20] = 250  # one coherent changed region: passes the low-level check
    return source, edited


def _judge(server: Loopback, source: np.ndarray, edited: np.ndarray, instruction: str = "remove the cat", *, lowlevel: bool = True):
    provider = get_provider("openai:qwen-test", base_url=server.openai_url, max_retries=0)
    try:
        pf = Prefilter(provider, T, lowlevel=lowlevel)
        png_s, png_e = encode_image(Image.fromarray(source)), encode_image(Image.fromarray(edited))
        return pf.judge(instruction, png_s, png_e, source, edited)
    finally:
        provider.close()


@pytest.fixture
def server(keys: str) -> Iterator[Loopback]:
    with Loopback() as srv:
        yield srv


SCORES_OK = '{"InstructionAdherence": 4.9, "ImageAesthetic": 4.8}'


def test_all_steps_pass(server: Loopback, pair) -> None:
    server.script(SCORES_OK, "yes", "Yes.")
    verdict = _judge(server, *pair)
    assert verdict.passed and verdict.rejected_at is None and verdict.failure is None
    f = verdict.fields
    assert f["scores"] == {"instruction": 4.9, "aesthetics": 4.8, "geometric": pytest.approx((4.9 * 4.8) ** 0.5)}
    assert f["checks"]["unwanted"]["passed"] is True and f["checks"]["aesthetic"]["passed"] is True
    assert f["checks"]["lowlevel"]["passed"] is True
    assert f["judge"]["status"] == "ok" and f["prefilter"]["semantic"] == "run"
    # A.2 and A.3 see (original, edited); A.4 sees the edited image only.
    assert sorted(len(r.images()) for r in server.requests) == [1, 2, 2]  # A.3 and A.4 run concurrently


def test_records_judgements_as_validate_does(server: Loopback, pair) -> None:
    from hilite_cli.prompts import prompt_version
    from hilite_cli.stages import judging

    assert isinstance(T, judging.Thresholds) and T.to_dict() == {"aesthetics": 4.7, "instruction": 4.7}
    server.script(SCORES_OK, "yes", "yes")
    f = _judge(server, *pair).fields
    assert f["judge"]["prompt"] == "a2_evaluation" and f["judge"]["prompt_version"] == prompt_version("a2_evaluation")
    unwanted = f["checks"]["unwanted"]
    assert unwanted["prompt"] == "a3_unwanted" and unwanted["prompt_version"] == prompt_version("a3_unwanted")
    assert f["checks"]["aesthetic"]["prompt"] == "a4_aesthetics"
    assert f["prefilter"]["t_aes"] == 4.7 and f["prefilter"]["t_adh"] == 4.7


def test_every_question_is_asked_at_temperature_0_whatever_the_provider_default(
    server: Loopback, pair, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from hilite_cli.config import config_dir, load_config

    configs = tmp_path / "configs"
    shutil.copytree(config_dir(), configs)
    toml = configs / "providers.toml"
    toml.write_text(toml.read_text().replace("temperature = 0.0", "temperature = 0.7"))
    monkeypatch.setenv("HILITE_CONFIG_DIR", str(configs))
    load_config.cache_clear()
    server.script(SCORES_OK, "yes", "yes")
    try:
        assert _judge(server, *pair).passed
    finally:
        monkeypatch.delenv("HILITE_CONFIG_DIR")
        load_config.cache_clear()
    assert [r.body["temperature"] for r in server.requests] == [0.0, 0.0, 0.0]


def test_below_threshold_stops_at_a2_without_asking_a3_a4(server: Loopback, pair) -> None:
    server.script('{"InstructionAdherence": 4.6, "ImageAesthetic": 5.0}')
    verdict = _judge(server, *pair)
    assert not verdict.passed and verdict.rejected_at == "a2"
    assert verdict.fields["scores"]["instruction"] == 4.6  # recorded though rejected
    assert verdict.fields["checks"]["unwanted"] is None and verdict.fields["checks"]["aesthetic"] is None
    assert len(server.requests) == 1


def test_unwanted_modifications_reject_at_a3(server: Loopback, pair) -> None:
    server.answer = lambda req: "no" if "ORIGINAL" in req.text() else (SCORES_OK if "evaluator" in req.text() else "yes")
    verdict = _judge(server, *pair)
    assert verdict.rejected_at == "a3"
    assert verdict.fields["checks"]["unwanted"]["passed"] is False
    assert verdict.fields["checks"]["aesthetic"]["passed"] is True


def test_lowlevel_decides_last(server: Loopback, pair) -> None:
    source, _ = pair
    server.script(SCORES_OK, "yes", "yes")
    verdict = _judge(server, source, source.copy())  # nothing changed
    assert verdict.rejected_at == "lowlevel"
    assert verdict.fields["checks"]["lowlevel"]["reason"] == "no_change"


def test_a_failed_answer_fails_the_job_with_its_status(server: Loopback, pair) -> None:
    server.script(Raw(400, {"error": {"message": "bad request"}}))
    verdict = _judge(server, *pair)
    assert not verdict.passed and verdict.rejected_at is None
    assert verdict.failure is not None and verdict.failure[0] == "prefilter_a2_http_error"


def test_offline_records_semantic_steps_as_not_run(pair) -> None:
    provider = get_provider("offline")
    source, edited = pair
    verdict = Prefilter(provider, T).judge("remove the cat", b"", b"", source, edited)
    assert verdict.passed
    f = verdict.fields
    assert f["scores"] == {"instruction": None, "aesthetics": None, "geometric": None}
    assert f["judge"]["status"] == "unavailable" and f["prefilter"]["semantic"] == "not_run"
    verdict = Prefilter(provider, T).judge("remove the cat", b"", b"", source, source.copy())
    assert verdict.rejected_at == "lowlevel"
