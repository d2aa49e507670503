"""Source planning (N seeds per prompt at NHR 3.5 random resolutions) and the A.5 gate's outcomes."""

from __future__ import annotations

import pytest
from support.loopback import Loopback, Raw
from support.photos import save_photo

from hilite_cli.models.registry import get_spec
from hilite_cli.providers import get_provider
from hilite_cli.stages.mine.sources import gate_source, plan_sources, resolution_bounds

SPEC = get_spec("flux-schnell")


def _plan(specs, n=10, **bounds):
    return plan_sources(specs, n_sources=n, t2i_spec=SPEC, bounds=resolution_bounds(SPEC, bounds), t2i_params={"steps": 4})


def test_n_sources_per_prompt_at_reproducible_paper_resolutions() -> None:
    specs = [{"id": "a", "t2i_prompt": "a kitchen", "edits": ["remove the kettle"]}]
    plans = _plan(specs)
    assert len(plans) == 10 and [p.seed for p in plans] == list(range(10))
    for p in plans:
        long, short = max(p.width, p.height), min(p.width, p.height)
        assert 860 <= long <= 2200 and long / short <= 6.0
        assert p.width % 16 == 0 and p.height % 16 == 0
    assert len({(p.width, p.height) for p in plans}) > 1  # one random size per source
    assert [(p.id, p.width, p.height) for p in _plan(specs)] == [(p.id, p.width, p.height) for p in plans]


def test_specs_sharing_a_prompt_share_sources_and_merge_instructions() -> None:
    plans = _plan(
        [
            {"id": "a", "t2i_prompt": "a kitchen", "edits": ["remove the kettle"]},
            {"id": "b", "t2i_prompt": "a kitchen", "edits": ["remove the kettle", "remove the cat"]},
        ],
        n=2, long_side_min=32, long_side_max=48,
    )
    assert len(plans) == 2
    assert plans[0].instructions == ["remove the kettle", "remove the cat"] and plans[0].specs == ["a", "b"]
    assert all(max(p.width, p.height) <= 48 for p in plans)


def test_photo_sources_are_identified_by_their_bytes(tmp_path) -> None:
    a = save_photo(tmp_path, "coffee", size=32)
    copy = tmp_path / "copy.png"
    copy.write_bytes(a.read_bytes())
    plans = _plan([{"id": "1", "image": str(a), "edits": ["make it warm"]}, {"id": "2", "image": str(copy), "edits": ["blur it"]}])
    assert len(plans) == 1 and plans[0].kind == "photo" and plans[0].instructions == ["make it warm", "blur it"]
    outcome, gate = gate_source(get_provider("offline"), plans[0], b"")
    assert outcome == "photo" and gate["status"] == "not_applicable"


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [("Yes", "gated"), ("No.", "rejected:gate"), ("Maybe?", "failed:gate_unparsed"), (Raw(400, {"error": {}}), "failed:gate_http_error")],
)
def test_gate_outcomes(keys: str, reply, outcome: str) -> None:
    plan = _plan([{"id": "a", "t2i_prompt": "a kitchen", "edits": ["x"]}], n=1)[0]
    with Loopback() as server:
        server.script(reply)
        provider = get_provider("openai:qwen-7b", base_url=server.openai_url, max_retries=0, use_cache=False)
        got, gate = gate_source(provider, plan, b"\x89PNG\r\n\x1a\n")
        provider.close()
        assert "a kitchen" in server.requests[0].text()
    assert got == outcome
    assert gate["passed"] == ({"gated": True, "rejected:gate": False}.get(outcome))


def test_offline_gate_is_recorded_as_not_run_and_no_gate_as_skipped() -> None:
    plan = _plan([{"id": "a", "t2i_prompt": "a kitchen", "edits": ["x"]}], n=1)[0]
    outcome, gate = gate_source(get_provider("offline"), plan, b"")
    assert outcome == "gate_not_run" and gate["status"] == "unavailable" and gate["passed"] is None
    assert gate_source(None, plan, b"")[0] == "gate_skipped"
