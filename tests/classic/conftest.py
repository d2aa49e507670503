"""Fixtures for the classic editor and text-mask tests: real photos, a tiny random-weight CLIPSeg."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((64, 64), Image.BILINEAR)


def _byte_vocab() -> dict[str, int]:
    """A character-level CLIP BPE vocabulary: every byte symbol, alone and word-final, plus specials."""
    from tokenizers.pre_tokenizers import ByteLevel

    symbols = sorted(ByteLevel.alphabet())
    tokens = symbols + [s + "</w>" for s in symbols] + ["<|startoftext|>", "<|endoftext|>"]
    return {tok: i for i, tok in enumerate(tokens)}


@pytest.fixture(scope="session")
def tiny_clipseg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight CLIPSeg (32x32 input) saved like a hub checkpoint, with its tokenizer and processor."""
    import torch
    from transformers import (
        CLIPSegConfig,
        CLIPSegForImageSegmentation,
        CLIPSegProcessor,
        CLIPTokenizer,
        ViTImageProcessorPil,
    )

    root = tmp_path_factory.mktemp("clipseg")
    vocab = _byte_vocab()
    (root / "vocab.json").write_text(json.dumps(vocab))
    (root / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(root / "vocab.json"), str(root / "merges.txt"), model_max_length=16)
    image_processor = ViTImageProcessorPil(size={"height": 32, "width": 32})
    config = CLIPSegConfig(
        text_config={
            "vocab_size": len(vocab),
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 16,
            "eos_token_id": vocab["<|endoftext|>"],
            "bos_token_id": vocab["<|startoftext|>"],
            "pad_token_id": vocab["<|endoftext|>"],
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=32,
        reduce_dim=16,
        extract_layers=(0, 1),
        decoder_num_attention_heads=2,
        decoder_intermediate_size=32,
    )
    torch.manual_seed(0)
    model = CLIPSegForImageSegmentation(config).eval()
    model.save_pretrained(root)
    CLIPSegProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(root)
    return root


@pytest.fixture
def square_mask() -> np.ndarray:
    mask = np.zeros((64, 64), dtype=bool)
    mask[20:40, 24:44] = True
    return mask
