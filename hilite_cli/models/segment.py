"""Text-prompted masks ("the cat" -> a boolean mask) through transformers' CLIPSeg.

Used by `hilite mask --text`. The model loads once per (weights, device) and is reused; the image
processor is the PIL backend, so no torchvision is needed.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

DEFAULT_MODEL = "CIDAS/clipseg-rd64-refined"
DEFAULT_THRESHOLD = 0.4


class SegmentError(Exception):
    """The segmentation model could not be loaded or run; the message says how to fix it."""

    kind = "segment_model_unavailable"


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@cache
def _load(source: str, device: str) -> tuple[Any, Any]:
    """(processor, model) for a hub id or a local folder, loaded once and kept."""
    from transformers import CLIPSegForImageSegmentation, CLIPSegProcessor, CLIPTokenizer, ViTImageProcessorPil

    try:
        processor = CLIPSegProcessor(
            image_processor=ViTImageProcessorPil.from_pretrained(source),
            tokenizer=CLIPTokenizer.from_pretrained(source),
        )
        model = CLIPSegForImageSegmentation.from_pretrained(source)
    except OSError as exc:
        raise SegmentError(
            f"cannot load CLIPSeg weights from {source!r} ({exc}); fetch them with "
            f"`hf download {source}` or pass a local folder with --segmenter DIR"
        ) from None
    return processor, model.to(device).eval()


def ensure_loaded(source: str, device: str | None = None) -> None:
    """Load the segmentation model now (it is kept): missing weights are a usage error before any
    record, not a failure of each one."""
    _load(source, device or _default_device())


def text_logits(
    image: Image.Image,
    text: str,
    *,
    model: str = DEFAULT_MODEL,
    weights_dir: str | Path | None = None,
    device: str | None = None,
) -> np.ndarray:
    """Per-pixel probability (float32, image height x width) that the pixel shows `text`."""
    import torch

    if not text.strip():
        raise ValueError("`text` must name what to segment, got an empty string")
    source = str(weights_dir) if weights_dir is not None else model
    processor, net = _load(source, device or _default_device())
    rgb = image.convert("RGB")
    inputs = processor(text=[text], images=[rgb], padding="max_length", return_tensors="pt")
    inputs = {k: v.to(net.device) for k, v in inputs.items()}
    with torch.inference_mode():
        logits = net(**inputs).logits
    logits = logits.reshape(1, 1, *logits.shape[-2:]).float()
    # 1. back to the image's own size; 2. logits -> probabilities
    size = (rgb.height, rgb.width)
    upsampled = torch.nn.functional.interpolate(logits, size=size, mode="bilinear", align_corners=False)
    return torch.sigmoid(upsampled)[0, 0].cpu().numpy().astype(np.float32)


def text_mask(
    image: Image.Image,
    text: str,
    *,
    model: str = DEFAULT_MODEL,
    weights_dir: str | Path | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    dilate: int = 0,
    device: str | None = None,
) -> np.ndarray:
    """Boolean mask (height x width) of where `text` is: probability > `threshold`, grown by `dilate` px."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"`threshold` must be in [0, 1], got {threshold}")
    if dilate < 0:
        raise ValueError(f"`dilate` must be >= 0 pixels, got {dilate}")
    mask = text_logits(image, text, model=model, weights_dir=weights_dir, device=device) > threshold
    if dilate and mask.any():
        import cv2

        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1, 2 * dilate + 1))
        mask = cv2.dilate(mask.astype(np.uint8), kernel) > 0
    return mask
