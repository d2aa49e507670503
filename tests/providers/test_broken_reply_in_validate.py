"""A 200 that is not the SDK's JSON, met inside `hilite validate`: that candidate alone gets a null score and
an `unparsed` judge block with the body kept; every good candidate is asked exactly once."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from support.loopback import Loopback, Raw, Received
from support.scripted_judge import candidate, scores, write_block_edit, write_source
from typer.testing import CliRunner

from hilite_cli.cli.app import app

PROXY_PAGE = "<html><body><h1>Service Unavailable</h1>corporate proxy</body></html>"


@pytest.mark.parametrize("backend", ["gemini", "openai"])
def test_one_broken_reply_types_one_record_and_nothing_is_asked_twice(backend: str, server: Loopback, keys: str,
                                                                      tmp_path: Path) -> None:
    source = write_source(tmp_path / "src.png", 3)
    records = [candidate(f"c{i}", source, f"paint it {i}", write_block_edit(source, tmp_path / f"e{i}.png", (i, 9, 9)))
               for i in range(4)]
    manifest = tmp_path / "cands.jsonl"
    manifest.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))

    def answer(req: Received) -> Raw | str:
        return Raw(200, PROXY_PAGE) if "paint it 2" in req.text() else scores(4.8, 4.9)

    server.answer = answer
    url = server.url if backend == "gemini" else server.openai_url
    spec = "gemini:gemini-2.5-flash" if backend == "gemini" else "openai:gpt-4.1"
    result = CliRunner().invoke(app, ["validate", str(manifest), "--judge", spec, "--base-url", url, "--checks", "",
                                      "--batch-size", "4", "--max-retries", "1", "--no-progress",
                                      "-o", str(tmp_path / "out.jsonl")])
    out = {r["id"]: r for r in map(orjson.loads, (tmp_path / "out.jsonl").read_bytes().splitlines())}
    errors = [orjson.loads(line) for line in (tmp_path / "out.jsonl.errors.jsonl").read_bytes().splitlines()]
    # one per candidate, and the broken one asked once more within the run (--max-retries 1, issue 29):
    # no batch re-run one record at a time
    assert len(server.requests) == 5
    assert [e["id"] for e in errors] == ["c2"] and errors[0]["error"]["kind"] == "judge_unparsed"
    broken = errors[0]
    assert broken["scores"]["instruction"] is None and broken["scores"]["aesthetics"] is None
    assert broken["judge"]["status"] == "unparsed" and broken["judge"]["raw"] == PROXY_PAGE
    assert broken["judge"]["cached"] is False
    assert [out[f"c{i}"]["scores"]["instruction"] for i in (0, 1, 3)] == [4.8, 4.8, 4.8]
    assert result.exit_code == 1, result.output
