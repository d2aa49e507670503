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


@pytest.mark.parametrize("layout", ["save_to_disk", "arrow_files"])
def test_gedit_folder_in_arrow_layouts(gedit: Bench, tmp_path: Path, layout: str) -> None:
    """`save_to_disk` folders and the hub's arrow files load like the parquet folder, with the real
    `Intersection_exist` column (capital I) selecting GEdit's intersection subset."""
    import datasets

    from hilite_cli.stages.eval.benchmarks import gedit_items

    table = datasets.load_dataset("parquet", data_files=[str(p) for p in gedit.data.rglob("*.parquet")], split="train")
    folder = tmp_path / layout
    if layout == "save_to_disk":
        table.save_to_disk(str(folder))
    else:
        (folder / "data").mkdir(parents=True)
        table.save_to_disk(str(tmp_path / "staging"))
        for i, arrow in enumerate(sorted((tmp_path / "staging").glob("*.arrow"))):
            shutil.copy(arrow, folder / "data" / f"train-{i:05d}.arrow")
    items = list(gedit_items(str(folder), tmp_path / "cache", "en", "intersection"))
    assert [i.key for i in items] == ["k1", "k3", "k5"]
    assert all(i.extra == {"Intersection_exist": True} for i in items)
