"""In-process transformers VLM (Qwen2.5-VL in NHR's plausibility gate), loaded once, greedy decoding.

transformers' Qwen-VL *processor* classes need torchvision (for video), which this project does not
install. So inputs are built here: the image processor's PIL backend makes the pixel patches, and
the chat prompt is written with the right number of image-pad tokens (`qwen_vl_inputs`, the seam a
different model family would replace).

A LoRA adapter from `hilite tune-judge train --backend local` is named after the base with `@`:
`local:BASE@ADAPTER_DIR`. It is loaded onto the base and merged in process; an adapter trained on
another base is refused, and the adapter's content hash is part of every cache key and judge block.
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path
from typing import Any

from hilite_cli.providers.base import Answer, Ask, Provider, Settings
from hilite_cli.providers.cache import ResponseCache
from hilite_cli.providers.errors import ProviderConfigError

SYSTEM = "You are a helpful assistant."


def qwen_vl_inputs(tokenizer: Any, image_processor: Any, prompt: str, images: list[bytes]) -> dict[str, Any]:
    """Qwen2/2.5-VL chat-format model inputs: one `<|vision_start|><|image_pad|>×n<|vision_end|>` per image."""
    from PIL import Image

    pictures = [Image.open(io.BytesIO(data)).convert("RGB") for data in images]
    vision: dict[str, Any] = {}
    pads = ""
    if pictures:
        vision = dict(image_processor(images=pictures, return_tensors="pt"))
        merge = image_processor.merge_size**2
        for grid in vision["image_grid_thw"]:
            pads += "<|vision_start|>" + "<|image_pad|>" * int(grid.prod() // merge) + "<|vision_end|>"
    text = (
        f"<|im_start|>system\n{SYSTEM}<|im_end|>\n"
        f"<|im_start|>user\n{pads}{prompt}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    tokens = dict(tokenizer(text, return_tensors="pt", add_special_tokens=False))
    return {**tokens, **vision}


def require_weights(model: str) -> None:
    """Stop before any record when the model's weights are nowhere to load from: a folder without a
    config.json, or a hub id that is not in the Hugging Face cache while HF_HUB_OFFLINE forbids the
    download. Loading still happens on first use, so a fully cached run loads nothing."""
    folder = Path(model).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise ProviderConfigError(f"local VLM folder {folder} has no config.json: it is not a transformers model")
        return
    if model.startswith(("/", "./", "../", "~")) or folder.exists():
        raise ProviderConfigError(f"local VLM folder {folder} does not exist: name a model folder (local:/path/to/model)")
    if os.environ.get("HF_HUB_OFFLINE", "").strip().upper() not in ("1", "ON", "YES", "TRUE"):
        return  # transformers downloads it on first use
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(model, "config.json")
    except ValueError:  # not a valid hub id either
        cached = None
    if not isinstance(cached, str):
        raise ProviderConfigError(
            f"local VLM `{model}` is not in the Hugging Face cache and HF_HUB_OFFLINE=1 forbids downloading it: "
            f"run `hf download {model}` first, or name a folder: local:/path/to/model"
        )


def _same_model(a: str, b: str) -> bool:
    """Two model names for one model: equal hub ids, or folders that resolve to one place."""
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    if pa.is_dir() and pb.is_dir():
        return pa.resolve() == pb.resolve()
    return a.rstrip("/") == b.rstrip("/")


def check_adapter(base: str, adapter: str) -> dict[str, Any]:
    """The tuned judge's identity `{base, adapter, adapter_sha256}`; a missing adapter, or one trained on
    another base than `base`, is a ProviderConfigError."""
    import hashlib
    import json

    folder = Path(adapter).expanduser()
    config = folder / "adapter_config.json"
    weights = folder / "adapter_model.safetensors"
    if not config.is_file() or not weights.is_file():
        raise ProviderConfigError(f"{folder} is not a LoRA adapter folder (no adapter_config.json / "
                                  "adapter_model.safetensors): name the `adapter` folder `hilite tune-judge train` wrote")
    trained_on = json.loads(config.read_text(encoding="utf-8")).get("base_model_name_or_path") or ""
    if not _same_model(trained_on, base):
        raise ProviderConfigError(f"adapter {folder} was trained on `{trained_on}`, not on `{base}`: "
                                  f"use --judge local:{trained_on}@{adapter}")
    return {"base": base, "adapter": adapter, "adapter_sha256": hashlib.sha256(weights.read_bytes()).hexdigest()}


class LocalProvider(Provider):
    name = "local"

    def __init__(self, model: str, settings: Settings, cache: ResponseCache | None, *, device: str | None,
                 dtype: str) -> None:
        super().__init__(model, settings, cache)
        self.base, _, adapter = model.rpartition("@") if "@" in model else (model, "", "")
        require_weights(self.base)
        self.tuned = check_adapter(self.base, adapter) if adapter else None
        self.device = device
        self.dtype = dtype
        self._loaded: tuple[Any, Any, Any] | None = None
        self._lock = threading.Lock()  # one model instance: generate one request at a time

    def _load(self) -> tuple[Any, Any, Any]:
        """(model, tokenizer, image processor), loaded on first use so fully cached runs load nothing."""
        if self._loaded is None:
            import torch
            from transformers import AutoImageProcessor, AutoModelForImageTextToText, AutoTokenizer

            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            try:
                tokenizer = AutoTokenizer.from_pretrained(self.base)
                image_processor = AutoImageProcessor.from_pretrained(self.base, backend="pil")
                vlm = AutoModelForImageTextToText.from_pretrained(self.base, dtype=self.dtype)
            except (OSError, ValueError) as exc:
                raise ProviderConfigError(
                    f"cannot load local VLM `{self.base}`: {exc}. Download it first (hf download "
                    f"{self.base}) or name a folder: local:/path/to/model"
                ) from None
            if self.tuned is not None:
                from peft import PeftModel

                vlm = PeftModel.from_pretrained(vlm, self.tuned["adapter"]).merge_and_unload()
            self._loaded = (vlm.to(device).eval(), tokenizer, image_processor)
        return self._loaded

    def _params(self, ask: Ask) -> dict[str, Any]:
        """A tuned judge's answers are cached under its adapter's content, not only its folder name."""
        params = super()._params(ask)
        if self.tuned is not None:
            params["adapter_sha256"] = self.tuned["adapter_sha256"]
        return params

    def _attempt(self, ask: Ask) -> Answer:
        import torch

        with self._lock:
            vlm, tokenizer, image_processor = self._load()
            inputs = qwen_vl_inputs(tokenizer, image_processor, ask.prompt, ask.images)
            inputs = {k: v.to(vlm.device) for k, v in inputs.items()}
            limit = self.output_limit(ask)
            with torch.inference_mode():
                output = vlm.generate(**inputs, do_sample=False, max_new_tokens=limit,
                                      pad_token_id=tokenizer.pad_token_id)
        new = output[0, inputs["input_ids"].shape[1]:]
        text = tokenizer.decode(new, skip_special_tokens=True)
        eos = vlm.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos]) | {tokenizer.eos_token_id}
        if len(new) >= limit and int(new[-1]) not in eos_ids:
            return self.answer("truncated", raw=text, reason=f"generation hit max_new_tokens={limit}")
        return self.from_text(ask, text)

    def close(self) -> None:
        self._loaded = None
        super().close()
