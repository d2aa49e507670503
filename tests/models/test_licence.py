"""Licence as data: every registered model says its licence and whether it allows commercial use,
`hilite models` shows it, and hosted models appear with their seed behaviour."""

from __future__ import annotations

import orjson

from hilite_cli.models.registry import load_registry
from support.cli import hilite


def test_every_registered_model_records_its_licence() -> None:
    for spec in load_registry().values():
        assert spec.licence and spec.licence_source, spec.name
        assert spec.commercial_use in (True, False), spec.name
    registry = load_registry()
    assert registry["flux-kontext"].commercial_use is False and registry["flux-schnell"].commercial_use is True
    assert registry["qwen-image-edit"].licence_record() == {
        "name": "Apache-2.0", "commercial_use": True, "source": registry["qwen-image-edit"].licence_source}


def test_models_lists_hosted_models_with_licence_and_seed_note(tmp_path) -> None:
    res = hilite("models", "--jsonl", cwd=tmp_path)
    assert res.returncode == 0, res.stderr.decode()
    rows = {r["name"]: r for r in map(orjson.loads, res.stdout.splitlines())}
    assert rows["openai-image:gpt-image-1"]["kind"] == "instruction" and rows["openai-t2i:gpt-image-1"]["kind"] == "t2i"
    assert "takes no seed" in rows["openai-image:gpt-image-1"]["seeds_note"]
    assert "seed is sent" in rows["gemini-image:gemini-2.5-flash-image"]["seeds_note"]
    assert all("licence" in r and "commercial_use" in r for r in rows.values())
    table = hilite("models", cwd=tmp_path, env={"COLUMNS": "200"})
    assert table.returncode == 0 and b"licence" in table.stdout


def test_check_says_a_hosted_model_needs_its_key(tmp_path) -> None:
    env = {"GEMINI_API_KEY": "", "GOOGLE_API_KEY": "", "OPENAI_API_KEY": ""}
    res = hilite("models", "--check", "--jsonl", "--device", "cpu", cwd=tmp_path, env=env)
    rows = {r["name"]: r for r in map(orjson.loads, res.stdout.splitlines())}
    row = rows["gemini-image:gemini-2.5-flash-image"]
    assert not row["runnable"] and row["weights"] == "hosted API"
    assert row["reasons"] == ["set GEMINI_API_KEY or GOOGLE_API_KEY (a paid API)"]
    res = hilite("models", "--check", "--jsonl", "--device", "cpu", cwd=tmp_path, env={**env, "OPENAI_API_KEY": "k"})
    rows = {r["name"]: r for r in map(orjson.loads, res.stdout.splitlines())}
    assert rows["openai-image:gpt-image-1"]["runnable"]
