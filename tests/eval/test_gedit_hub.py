"""GEdit-Bench by hub id (the default, stepfun-ai/GEdit-Bench) with HF_HUB_OFFLINE=1: `datasets` resolves
it from its own cache, laid out as a first online load leaves it, and the run judges with the bundled
VIEScore prompts. Not cached offline: one line, exit 2."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
from eval.conftest import Bench
from support.loopback import Loopback

REPLY = '{"score": [8, 6], "reasoning": "fine"}'


def _datasets_cache(bench: Bench, cache: Path) -> None:
    """`<HF_DATASETS_CACHE>/stepfun-ai___g_edit-bench/default/0.0.0/<hash>/`, prepared from the tiny parquet."""
    from datasets.packaged_modules.parquet.parquet import Parquet

    stage = cache.parent / "prepare"
    files = [str(p) for p in sorted(bench.data.rglob("*.parquet"))]
    builder = Parquet(cache_dir=str(stage), data_files={"train": files}, dataset_name="g_edit-bench")
    builder.download_and_prepare()
    shutil.copytree(builder.cache_dir, cache / "stepfun-ai___g_edit-bench" / "default" / "0.0.0" / "0123456789abcdef")


def _eval(bench: Bench, tmp_path: Path, url: str):
    from typer.testing import CliRunner

    from hilite_cli.cli.app import app

    return CliRunner().invoke(app, ["eval", "gedit", "--edited", str(bench.edited), "--judge", "openai:gpt-4.1",
                                    "--base-url", url, "--json", str(tmp_path / "s.json"), "-o", str(tmp_path / "o.jsonl"),
                                    "--out", str(tmp_path / "run")])


@pytest.fixture
def offline_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import datasets

    cache = tmp_path / "hf-datasets"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key-not-secret")
    return cache


def test_gedit_loads_by_hub_id_from_the_datasets_cache_offline(gedit: Bench, tmp_path: Path, offline_datasets: Path) -> None:
    _datasets_cache(gedit, offline_datasets)
    with Loopback(answer=lambda request: REPLY) as server:
        result = _eval(gedit, tmp_path, server.openai_url)
    assert result.exit_code == 0, result.output
    summary = orjson.loads((tmp_path / "s.json").read_bytes())
    assert summary["settings"]["data"] == "stepfun-ai/GEdit-Bench" and summary["settings"]["prompts"]["bundled"]
    assert (summary["items"], summary["judged"]) == (4, 4)  # the en items of the tiny table
    assert summary["overall"]["items"]["SC"] == 6.0


def test_gedit_not_cached_offline_is_one_line_exit_2(gedit: Bench, tmp_path: Path, offline_datasets: Path) -> None:
    result = _eval(gedit, tmp_path, "http://127.0.0.1:9/v1")
    assert result.exit_code == 2 and "stepfun-ai/GEdit-Bench: cannot load it through datasets" in result.output
    assert "Traceback" not in result.output
