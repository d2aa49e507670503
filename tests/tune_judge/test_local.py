"""The open route end to end on a tiny random-weight Qwen2.5-VL: a rating round, `tune-judge dataset`,
2 LoRA steps on CPU, then the adapter loaded through `local:BASE@ADAPTER` to judge a candidate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import orjson
import pytest
from support.cli import hilite
from support.rating_round import make_rated_store
from support.tiny_qwen_vl import build_tiny_qwen_vl

from hilite_cli.providers import ProviderConfigError, get_provider


@pytest.fixture(scope="module")
def tiny_vl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generation stops after one token (the weights are random): judging stays quick on a busy CPU."""
    return build_tiny_qwen_vl(tmp_path_factory.mktemp("tiny-qwen-vl"), stop_after_one_token=True)


TRAIN = ["--max-steps", "2", "--gradient-accumulation-steps", "1", "--learning-rate", "0.01", "--save-steps", "1"]


@pytest.fixture(scope="module")
def trained(tiny_vl: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Built once for the module: the tests below only read it (or copy it before changing it)."""
    tmp_path = tmp_path_factory.mktemp("round")
    store, ratings = make_rated_store(tmp_path)
    out = tmp_path / "set"
    assert hilite("tune-judge", "dataset", str(ratings), "--data", str(store.root), "--out", str(out)).returncode == 0
    res = hilite("tune-judge", "train", str(out), "--backend", "local", "--base", str(tiny_vl), *TRAIN)
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    line = orjson.loads(res.stdout)
    assert line["judge"] == f"local:{tiny_vl}@{out / 'adapter'}" and line["global_step"] == 2
    return out, out / "adapter"


def test_adapter_changes_only_its_target_weights_and_judges_a_candidate(trained, tiny_vl: Path, tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForImageTextToText

    out, adapter = trained
    base_weights = AutoModelForImageTextToText.from_pretrained(tiny_vl).state_dict()
    provider = get_provider(f"local:{tiny_vl}@{adapter}", use_cache=False)
    tuned = provider._load()[0].state_dict()
    assert tuned.keys() == base_weights.keys()
    changed = {k for k in base_weights if not torch.equal(base_weights[k], tuned[k])}
    targets = {k for k in base_weights if ".language_model." in k and k.endswith("_proj.weight")
               and k.split(".")[-2] in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")}
    assert targets and changed == targets

    # end to end: validate one candidate with the tuned judge; its judge block names the adapter
    meta = json.loads((out / "train" / "metadata.jsonl").read_text().splitlines()[0])
    src, edi = ((out / "train" / name).resolve() for name in meta["file_names"])
    cand = {"id": "c1", "parent": "t1", "image": str(src), "output": str(edi), "instruction": "make it winter",
            "model": "classic", "prompt": "make it winter", "seed": 0, "slot": "A",
            "params": {"steps": 1, "text_influence": 1.0, "image_influence": 1.0}}
    manifest = tmp_path / "cands.jsonl"
    manifest.write_bytes(orjson.dumps(cand) + b"\n")
    res = hilite("validate", str(manifest), "--judge", f"local:{tiny_vl}@{adapter}", "-o", str(tmp_path / "v.jsonl"))
    rows = [orjson.loads(x) for p in ("v.jsonl", "v.jsonl.errors.jsonl") if (tmp_path / p).exists()
            for x in (tmp_path / p).read_bytes().splitlines()]
    assert len(rows) == 1, res.stderr.decode()[-2000:]
    assert "judge" in rows[0], rows[0].get("error")
    judge = rows[0]["judge"]
    sha = json.loads((adapter / "hilite_tuning.json").read_text())["adapter_sha256"]
    assert judge["model"] == f"{tiny_vl}@{adapter}"
    assert judge["tuned"] == {"base": str(tiny_vl), "adapter": str(adapter), "adapter_sha256": sha}
    assert judge["status"] == "unparsed" and judge["raw"] is not None  # random weights: plumbing, not quality


def test_adapter_on_another_base_is_refused(trained, tiny_vl: Path, tmp_path: Path) -> None:
    _, adapter = trained
    other = tmp_path / "other-base"
    shutil.copytree(tiny_vl, other)
    with pytest.raises(ProviderConfigError, match="was trained on"):
        get_provider(f"local:{other}@{adapter}", use_cache=False)
    with pytest.raises(ProviderConfigError, match="not a LoRA adapter folder"):
        get_provider(f"local:{tiny_vl}@{tmp_path}", use_cache=False)


def test_resume_continues_from_the_last_checkpoint(trained, tiny_vl: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(trained[0], out)
    adapter = out / "adapter"
    shutil.rmtree(adapter)  # as if killed after checkpoint-2 was written and before the adapter was
    shutil.rmtree(out / "checkpoints" / "checkpoint-2")
    res = hilite("tune-judge", "train", str(out), "--backend", "local", "--base", str(tiny_vl), "--resume", *TRAIN)
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    line = orjson.loads(res.stdout)
    assert line["resumed_from"].endswith("checkpoint-1") and line["global_step"] == 2
    again = hilite("tune-judge", "train", str(out), "--backend", "local", "--base", str(tiny_vl), *TRAIN)
    assert again.returncode == 2 and b"--resume" in again.stderr


def test_gate_and_prefilter_records_name_the_adapter(trained, tiny_vl: Path) -> None:
    """mine's gate (A.5) and pre-filter (judge_block) keep the tuned judge's identity on every record."""
    from hilite_cli.stages.judging import judge_block
    from hilite_cli.stages.mine.sources import gate_ask, gate_record

    out, adapter = trained
    sha = json.loads((adapter / "hilite_tuning.json").read_text())["adapter_sha256"]
    image = next((out / "images").iterdir()).read_bytes()
    answer = get_provider(f"local:{tiny_vl}@{adapter}", use_cache=False).ask(gate_ask("a cat on a sofa", image))
    assert gate_record(answer)["tuned"]["adapter_sha256"] == sha
    assert judge_block(answer, "a2_evaluation")["tuned"]["adapter_sha256"] == sha
    plain = get_provider(f"local:{tiny_vl}", use_cache=False).ask(gate_ask("a cat on a sofa", image))
    assert "tuned" not in gate_record(plain) and "tuned" not in judge_block(plain, "a2_evaluation")


def test_compare_scores_the_held_out_items_with_both_judges(trained, tiny_vl: Path, tmp_path: Path) -> None:
    out, adapter = trained
    page = tmp_path / "page.html"
    res = hilite("tune-judge", "compare", str(out), "--base-judge", f"local:{tiny_vl}",
                 "--tuned-judge", f"local:{tiny_vl}@{adapter}", "--report", str(page))
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    held_out = json.loads((out / "split.json").read_text())["items"]["validation"]
    base = [orjson.loads(x) for x in (out / "compare" / "base.jsonl").read_bytes().splitlines()]
    tuned = [orjson.loads(x) for x in (out / "compare" / "tuned.jsonl").read_bytes().splitlines()]
    assert [r["item"] for r in base] == [r["item"] for r in tuned] == sorted(held_out)
    assert all("tuned" not in r["judge"] for r in base) and all(r["judge"]["tuned"] for r in tuned)
    # random weights give no A.2 JSON: null scores with the reason, and n/a in the page, never a number
    assert all(r["instruction"] is None and r["judge"]["status"] == "unparsed" for r in base + tuned)
    text = page.read_text()
    assert f"tuned: local:{tiny_vl}@{adapter}" in text and "n/a" in text
