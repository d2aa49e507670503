from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from hilite_cli.exports import write_dataset

from hilite_cli.prompts import prompt_version, render_prompt


def test_rows_are_trl_conversations_with_two_images(scored: list[dict[str, Any]], tmp_path: Path) -> None:
    import datasets

    out = tmp_path / "trl"
    summary = write_dataset(scored, out, "trl")
    usable = [r for r in scored if r["scores"]["geometric"] is not None]
    assert summary.written == len(usable) and summary.skipped["missing_scores"] == 1

    ds = datasets.load_dataset("imagefolder", data_dir=str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert {"messages", "images"} <= set(ds.column_names)
    from trl.data_utils import is_conversational, prepare_multimodal_messages

    for row, rec in zip(ds, usable, strict=True):
        assert is_conversational(row)  # TRL's own check, as SFTTrainer makes it
        prepare_multimodal_messages(row["messages"], images=row["images"])  # one image per placeholder
        user, assistant = row["messages"]
        assert user["role"] == "user" and assistant["role"] == "assistant"
        assert [part["type"] for part in user["content"]] == ["image", "image", "text"]
        prompt = user["content"][2]["text"]
        assert prompt == render_prompt("a2_evaluation", instruction=rec["instruction"])
        assert f"' {rec['instruction']} '" in prompt and "InstructionAdherence" in prompt
        assert row["prompt_version"] == prompt_version("a2_evaluation")
        answer = json.loads(assistant["content"][0]["text"])
        assert answer == {"InstructionAdherence": rec["scores"]["instruction"], "ImageAesthetic": rec["scores"]["aesthetics"]}
        source, edited = row["images"]
        assert np.array_equal(np.asarray(source.convert("RGB")), np.asarray(Image.open(rec["image"]).convert("RGB")))
        assert np.array_equal(np.asarray(edited), np.asarray(Image.open(rec["output"])))
        assert row["score_geometric"] == rec["scores"]["geometric"]
        assert json.loads(row["provenance"])["judge"]["model"] == "gemini-2.5-flash"
