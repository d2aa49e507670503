"""CLIP similarities equal a direct transformers computation on a tiny local CLIP."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data
from transformers import CLIPModel, CLIPProcessor

from hilite_cli.metrics.clip import ClipScorer


def photos() -> tuple[list[np.ndarray], list[np.ndarray]]:
    sources = [data.astronaut(), data.chelsea(), data.coffee()]
    edits = [np.ascontiguousarray(s[:, ::-1]) for s in sources[:2]] + [255 - sources[2]]
    return sources, edits


def direct(model_dir: Path, sources, edits, src_text, tgt_text):
    """Straight transformers: one forward pass, the model's own normalised image/text embeddings."""
    model = CLIPModel.from_pretrained(model_dir).eval()
    processor = CLIPProcessor.from_pretrained(model_dir)
    with torch.no_grad():
        a = processor(images=sources, text=src_text, return_tensors="pt", padding=True)
        b = processor(images=edits, text=tgt_text, return_tensors="pt", padding=True)
        out_a, out_b = model(**a), model(**b)
    img_sim = torch.nn.functional.cosine_similarity(out_a.image_embeds, out_b.image_embeds).tolist()
    direction = torch.nn.functional.cosine_similarity(
        out_b.image_embeds - out_a.image_embeds, out_b.text_embeds - out_a.text_embeds
    ).tolist()
    return img_sim, direction


def test_image_and_direction_similarity_equal_direct_transformers(tiny_clip_dir: Path) -> None:
    sources, edits = photos()
    src_text = ["a photo of a cat", "a red car", "a dog"]
    tgt_text = ["a photo of a dog", "a blue car", "a dog in a hat"]
    scorer = ClipScorer(tiny_clip_dir, device="cpu", batch_size=2)  # 2 < 3 exercises batching
    img_sim = scorer.image_similarity(sources, edits)
    direction = scorer.direction_similarity(sources, edits, src_text, tgt_text)
    want_img, want_dir = direct(tiny_clip_dir, sources, edits, src_text, tgt_text)
    np.testing.assert_allclose(img_sim, want_img, atol=1e-6)
    np.testing.assert_allclose(direction, want_dir, atol=1e-6)
    assert all(-1.0 <= v <= 1.0 for v in img_sim + direction)


def test_identical_images_have_similarity_one_and_no_direction(tiny_clip_dir: Path) -> None:
    source = data.rocket()
    scorer = ClipScorer(tiny_clip_dir, device="cpu")
    assert scorer.image_similarity([source], [source.copy()])[0] == pytest.approx(1.0, abs=1e-9)
    assert scorer.direction_similarity([source], [source.copy()], ["a red car"], ["a blue car"]) == [None]


def test_model_loads_once(tiny_clip_dir: Path) -> None:
    scorer = ClipScorer(tiny_clip_dir, device="cpu")
    scorer.load()
    model = scorer._model
    scorer.image_embeddings([data.chelsea()])
    assert scorer._model is model


def test_length_mismatch_raises(tiny_clip_dir: Path) -> None:
    with pytest.raises(ValueError, match="equal lengths"):
        ClipScorer(tiny_clip_dir, device="cpu").image_similarity([data.chelsea()], [])
