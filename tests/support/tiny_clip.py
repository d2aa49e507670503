"""A tiny random-weight CLIP saved to a local directory: tokenizer from a hand-written vocab.json/merges.txt,
the PIL image processor (no torchvision), no downloads."""

from __future__ import annotations

import json
from pathlib import Path

WORDS = ["cat", "dog", "photo", "red", "blue", "car", "winter", "summer", "snow", "hat"]


def _vocab_and_merges() -> tuple[dict[str, int], list[str]]:
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in "abcdefghijklmnopqrstuvwxyz":
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    merges = []
    for word in WORDS:
        # left-to-right merges: c+a -> ca, ca+t</w> -> cat</w>
        piece = word[0]
        for i, ch in enumerate(word[1:], start=1):
            right = ch + ("</w>" if i == len(word) - 1 else "")
            merges.append(f"{piece} {right}")
            piece = piece + right
            vocab.setdefault(piece, len(vocab))
    return vocab, merges


def build_tiny_clip(directory: Path, seed: int = 0) -> Path:
    """Write config, weights, tokenizer and image processor of a tiny CLIP into `directory`."""
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor, CLIPTokenizer
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    directory.mkdir(parents=True, exist_ok=True)
    vocab, merges = _vocab_and_merges()
    (directory / "vocab.json").write_text(json.dumps(vocab))
    (directory / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    tokenizer = CLIPTokenizer.from_pretrained(directory)

    torch.manual_seed(seed)
    config = CLIPConfig(
        text_config={
            "vocab_size": len(vocab),
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 32,
            "bos_token_id": 0,
            "eos_token_id": 1,
            "pad_token_id": 1,
        },
        vision_config={
            "image_size": 30,
            "patch_size": 6,
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
        },
        projection_dim=16,
    )
    CLIPModel(config).eval().save_pretrained(directory)
    image_processor = CLIPImageProcessorPil(size={"shortest_edge": 30}, crop_size={"height": 30, "width": 30})
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(directory)
    return directory
