"""CLIP similarities between source and edit, computed directly with transformers' CLIPModel.

- image similarity: cos(E_img(source), E_img(edit)) — HILITE's "image-image similarity".
- direction similarity: cos(E_img(edit) - E_img(source), E_txt(target) - E_txt(source)) — the
  InstructPix2Pix text-image direction metric; embeddings are L2-normalised before differencing,
  as InstructPix2Pix does. A zero direction (edit identical to source under CLIP, or identical
  captions) has no angle, so the value is None rather than a made-up 0.

Not torchmetrics' CLIPScore: it breaks on transformers 5 and does not expose directions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hilite_cli.config import load_config

ImageLike = Any  # numpy uint8 HxWx3 array or PIL image


def _pooled(output: Any) -> Any:
    """transformers 5 returns a ModelOutput whose pooler_output is the projection; 4.x a tensor."""
    return getattr(output, "pooler_output", output)


def _cosine(a: np.ndarray, b: np.ndarray) -> float | None:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return None
    return float(np.dot(a, b) / (na * nb))


class ClipLoadError(ValueError):
    """The CLIP weights are not on this machine (offline runs download nothing)."""


class ClipScorer:
    """Loads CLIP once (hub id or local dir) and scores batches under torch.no_grad."""

    def __init__(self, model: str | Path | None = None, *, device: str | None = None, batch_size: int | None = None):
        settings = load_config("metrics")["clip"]
        self.model_id = str(model or settings["model"])
        self.batch_size = int(batch_size or settings["batch_size"])
        self.device = device
        self._model: Any = None
        self._processor: Any = None

    def load(self) -> None:
        """Load model and processor (idempotent); offline runs need the weights in the HF cache or a local dir."""
        if self._model is not None:
            return
        import torch
        from transformers import CLIPModel, CLIPProcessor

        self.device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            model = CLIPModel.from_pretrained(self.model_id)
            self._processor = CLIPProcessor.from_pretrained(self.model_id)
        except OSError as exc:
            raise ClipLoadError(
                f"cannot load CLIP model {self.model_id!r} ({type(exc).__name__}: {exc}); fetch it with "
                f"`hf download {self.model_id}` or pass a local folder with --clip-model DIR"
            ) from None
        self._model = model.to(self.device).eval()

    def close(self) -> None:
        self._model = None
        self._processor = None

    def image_embeddings(self, images: Sequence[ImageLike]) -> np.ndarray:
        """L2-normalised image embeddings, float64, one row per image."""
        import torch

        self.load()
        rows = []
        for start in range(0, len(images), self.batch_size):
            chunk = list(images[start : start + self.batch_size])
            inputs = self._processor(images=chunk, return_tensors="pt").to(self.device)
            with torch.no_grad():
                feats = _pooled(self._model.get_image_features(pixel_values=inputs["pixel_values"]))
            rows.append(feats.double().cpu().numpy())
        return _normalise(np.concatenate(rows) if rows else np.zeros((0, 0)))

    def text_embeddings(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised text embeddings, float64, one row per text."""
        import torch

        self.load()
        rows = []
        for start in range(0, len(texts), self.batch_size):
            chunk = list(texts[start : start + self.batch_size])
            inputs = self._processor(text=chunk, return_tensors="pt", padding=True, truncation=True).to(self.device)
            with torch.no_grad():
                feats = _pooled(
                    self._model.get_text_features(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
                )
            rows.append(feats.double().cpu().numpy())
        return _normalise(np.concatenate(rows) if rows else np.zeros((0, 0)))

    def image_similarity(self, sources: Sequence[ImageLike], edits: Sequence[ImageLike]) -> list[float]:
        """cos(E_img(source_i), E_img(edit_i)) for each pair."""
        _check_lengths(sources=sources, edits=edits)
        src, edt = self.image_embeddings(sources), self.image_embeddings(edits)
        return [float(np.dot(a, b)) for a, b in zip(src, edt, strict=True)]

    def direction_similarity(
        self,
        sources: Sequence[ImageLike],
        edits: Sequence[ImageLike],
        source_captions: Sequence[str],
        target_captions: Sequence[str],
    ) -> list[float | None]:
        """cos(E_img(edit) - E_img(source), E_txt(target) - E_txt(source)) per pair; None for a zero direction."""
        _check_lengths(
            sources=sources, edits=edits, source_captions=source_captions, target_captions=target_captions
        )
        src, edt = self.image_embeddings(sources), self.image_embeddings(edits)
        tsrc, ttgt = self.text_embeddings(source_captions), self.text_embeddings(target_captions)
        return [_cosine(e - s, t1 - t0) for s, e, t0, t1 in zip(src, edt, tsrc, ttgt, strict=True)]


def _normalise(x: np.ndarray) -> np.ndarray:
    if x.size == 0:
        return x
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _check_lengths(**seqs: Sequence[Any]) -> None:
    lengths = {name: len(s) for name, s in seqs.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"inputs must have equal lengths, got {lengths}")
