"""validate --select best through batch jobs: the same winners and typed failures as plain requests,
and the answers land in the same cache, so a plain re-run asks nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.batch_configs import fast_configs
from support.judge_fixtures import backend, judge, options, server, spec
from support.loopback import Refusal
from support.scripted_judge import ScriptedJudge, candidate, run_through, scores, write_block_edit, write_source

from hilite_cli.stages.validate import ValidateStage

__all__ = ["backend", "judge", "options", "server", "spec"]

REPLIES = [(4.8, 4.9), (4.9, 4.9), (3.0, 5.0), "refused"]  # the winner is #1; #3 never passes


def test_validate_through_one_batch_job_matches_plain_requests_and_shares_their_cache(
    tmp_path: Path, judge: ScriptedJudge, server: Any, spec: str, backend: str, options: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast_configs(tmp_path / "configs", monkeypatch)
    src = write_source(tmp_path / "s.png", 0)
    records = []
    for i, reply in enumerate(REPLIES):
        out = write_block_edit(src, tmp_path / f"e{i}.png", (10, 20 * i, 200))
        judge.score("Remove the cat.", out, Refusal() if reply == "refused" else scores(*reply))
        records.append(candidate(f"c{i}", src, "Remove the cat.", out))
    batch = {**options, "batch_state": tmp_path / "run.jsonl.batches.jsonl"}
    out, errors, summary = run_through(ValidateStage(spec, select="best", batch_size=100, provider_options=batch),
                                       records, tmp_path / "batch")
    assert [t["parents"] for t in out] == [["c1"]] and out[0]["judge"]["status"] == "ok"
    assert "usage" in out[0]["judge"]
    refused = "judge_refused" if backend == "openai" else "judge_unparsed"
    assert [e["error"]["kind"] for e in errors] == [refused] and summary.failed == 1
    assert server.batches.creates == 1 and len(server.requests) == 4
    plain, plain_errors, _ = run_through(ValidateStage(spec, select="best", provider_options=options), records,
                                         tmp_path / "plain")
    # The plain run answers from the batch run's cache: the same records, but for `judge.cached`.
    assert [t["judge"]["cached"] for t in plain] == [True] and [t["judge"]["cached"] for t in out] == [False]
    assert _without_cached(plain) == _without_cached(out)
    assert [e["error"] for e in plain_errors] == [e["error"] for e in errors]
    assert len(server.requests) == 4 and server.batches.creates == 1  # all four from the cache


def _without_cached(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "judge": {k: v for k, v in r["judge"].items() if k != "cached"}} for r in records]
