"""dpo and kto read through TRL's own dataset utilities (trl.data_utils) after `datasets` loads the file the
way each card says: the columns mean what TRL takes them to mean. DPO: the prompt shows the original and two
edits, `chosen` names the better one (by the exporter's scores, computed here independently) and the three
images are the original and the two edits in the placeholders' order. KTO: `label` is true exactly for the
good edits, the prompt's two images are the original and the edit."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from hilite_cli.exports import write_dpo, write_kto


def _load(path: Path) -> Any:
    import datasets

    ds = datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(path.parent / "cache"))
    return ds.cast_column("images", datasets.Sequence(datasets.Image()))


def _same(img: Image.Image, path: str) -> bool:
    return np.array_equal(np.asarray(img.convert("RGB")), np.asarray(Image.open(path).convert("RGB")))


def _geo(rec: dict[str, Any]) -> float:
    return math.sqrt(rec["scores"]["instruction"] * rec["scores"]["aesthetics"])


def test_dpo_rows_are_trl_vision_preference_examples(scored: list[dict[str, Any]], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from trl.data_utils import is_conversational, maybe_extract_prompt, prepare_multimodal_messages

    path = tmp_path / "out" / "dpo.jsonl"
    summary = write_dpo(scored, path)
    assert (tmp_path / "out" / "dpo.README.md").is_file()
    monkeypatch.chdir(path.parent)  # the card's recipe: image paths are relative to the file
    ds = _load(path)
    assert len(ds) == summary.written > 0
    assert {"prompt", "chosen", "rejected", "images"} <= set(ds.column_names)
    by_output = {r["output"]: r for r in scored}
    letters = set()
    for row in ds:
        assert is_conversational(row)
        assert maybe_extract_prompt(row)["prompt"] == row["prompt"]  # TRL keeps an explicit prompt, no common prefix
        prompt = prepare_multimodal_messages(row["prompt"], images=row["images"])  # placeholders == images
        assert row["instruction"] in prompt[0]["content"][-1]["text"]
        source, edit_a, edit_b = row["images"]
        chosen_rec = by_output[os.path.normpath(path.parent / row["chosen_edit"])]
        rejected_rec = by_output[os.path.normpath(path.parent / row["rejected_edit"])]
        assert _geo(chosen_rec) > _geo(rejected_rec)
        letter = row["chosen"][0]["content"][0]["text"]
        assert {letter, row["rejected"][0]["content"][0]["text"]} == {"A", "B"}
        better = edit_a if letter == "A" else edit_b
        worse = edit_b if letter == "A" else edit_a
        assert _same(better, chosen_rec["output"]) and _same(worse, rejected_rec["output"])
        assert _same(source, chosen_rec["image"])
        letters.add(letter)
    assert letters == {"A", "B"}  # the winner's position carries no signal


def test_kto_rows_are_trl_unpaired_preference_examples(scored: list[dict[str, Any]], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from trl.data_utils import is_conversational, prepare_multimodal_messages

    path = tmp_path / "kto.jsonl"
    write_kto(scored, path, t_aes=4.7, t_adh=4.7)
    monkeypatch.chdir(tmp_path)
    ds = _load(path)
    assert {"prompt", "completion", "label", "images"} <= set(ds.column_names)
    by_id = {r["id"]: r for r in scored}
    for row in ds:
        rec = by_id[row["id"]]
        assert is_conversational(row)
        prepare_multimodal_messages(row["prompt"], images=row["images"])
        assert row["completion"][0]["content"][0]["text"] == "yes"
        assert row["label"] == (min(rec["scores"]["instruction"], rec["scores"]["aesthetics"]) >= 4.7)
        assert _same(row["images"][0], rec["image"]) and _same(row["images"][1], rec["output"])
        assert rec["instruction"] in row["prompt"][0]["content"][-1]["text"]
