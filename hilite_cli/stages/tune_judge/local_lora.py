"""LoRA-tune an open Qwen2/2.5-VL judge on the A.2 training set, with TRL's SFTTrainer and PEFT.

Inputs are built by the same `qwen_vl_inputs` the `local` provider judges with, so the tuned judge
sees at inference exactly the token layout it was trained on; the loss covers only the answer (and
its end-of-turn token). Runs on one GPU as is and on several under `accelerate launch`; checkpoints
go to `<out>/checkpoints`, and `resume=True` continues from the last one after a kill. The adapter
folder (`<out>/adapter`) is what `--judge local:BASE@<out>/adapter` loads.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hilite_cli.config import load_config

TUNING_FILE = "hilite_tuning.json"


@dataclass(frozen=True)
class LoraSettings:
    rank: int
    alpha: int
    dropout: float
    target_modules: str
    learning_rate: float
    epochs: float
    batch_size: int
    gradient_accumulation_steps: int
    save_steps: int
    dtype: str

    @classmethod
    def from_config(cls, **overrides: Any) -> LoraSettings:
        cfg = {**load_config("tuning")["local"], **{k: v for k, v in overrides.items() if v is not None}}
        return cls(**{k: cfg[k] for k in cls.__dataclass_fields__})


def read_examples(set_dir: Path, split: str) -> list[dict[str, Any]]:
    """(prompt, answer, image paths) per example of a `tune-judge dataset` split."""
    folder = set_dir / split
    rows = []
    for line in (folder / "metadata.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        user, assistant = row["messages"]
        rows.append({
            "a2_prompt": next(c["text"] for c in user["content"] if c["type"] == "text"),
            "a2_answer": assistant["content"][0]["text"],
            "image_paths": [str((folder / name).resolve()) for name in row["file_names"]],
        })
    return rows


class JudgeCollator:
    """Batches of (chat prompt with both images, A.2 answer): labels are -100 except on the answer."""

    def __init__(self, tokenizer: Any, image_processor: Any) -> None:
        self.tokenizer = tokenizer
        self.image_processor = image_processor

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        from hilite_cli.providers.local import qwen_vl_inputs

        ids, labels, pixels, grids = [], [], [], []
        for f in features:
            images = [Path(p).read_bytes() for p in f["image_paths"]]
            inputs = qwen_vl_inputs(self.tokenizer, self.image_processor, f["a2_prompt"], images)
            prompt = inputs["input_ids"][0]
            answer = self.tokenizer(f["a2_answer"] + "<|im_end|>\n", add_special_tokens=False,
                                    return_tensors="pt")["input_ids"][0]
            ids.append(torch.cat([prompt, answer]))
            labels.append(torch.cat([torch.full_like(prompt, -100), answer]))
            pixels.append(inputs["pixel_values"])
            grids.append(inputs["image_grid_thw"])
        width = max(len(t) for t in ids)
        pad = self.tokenizer.pad_token_id
        return {
            "input_ids": torch.stack([torch.nn.functional.pad(t, (0, width - len(t)), value=pad) for t in ids]),
            "attention_mask": torch.stack([torch.nn.functional.pad(torch.ones_like(t), (0, width - len(t))) for t in ids]),
            "labels": torch.stack([torch.nn.functional.pad(t, (0, width - len(t)), value=-100) for t in labels]),
            "pixel_values": torch.cat(pixels),
            "image_grid_thw": torch.cat(grids),
        }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def train_local(set_dir: Path, base: str, out: Path, *, resume: bool = False, max_steps: int | None = None,
                settings: LoraSettings | None = None, seed: int = 0) -> Path:
    """Train, save the adapter to `<out>/adapter` with its provenance (hilite_tuning.json); returns that folder."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoImageProcessor, AutoModelForImageTextToText, AutoTokenizer
    from transformers.trainer_utils import get_last_checkpoint
    from trl import SFTConfig, SFTTrainer

    s = settings or LoraSettings.from_config()
    # 1. data and model
    train, validation = read_examples(set_dir, "train"), read_examples(set_dir, "validation")
    tokenizer = AutoTokenizer.from_pretrained(base)
    image_processor = AutoImageProcessor.from_pretrained(base, backend="pil")
    model = AutoModelForImageTextToText.from_pretrained(base, dtype=s.dtype)
    # 2. trainer
    checkpoints = out / "checkpoints"
    args = SFTConfig(
        output_dir=str(checkpoints), num_train_epochs=s.epochs, max_steps=max_steps or -1,
        per_device_train_batch_size=s.batch_size, per_device_eval_batch_size=s.batch_size,
        gradient_accumulation_steps=s.gradient_accumulation_steps, learning_rate=s.learning_rate,
        save_steps=s.save_steps, save_total_limit=2, logging_steps=1, report_to="none", seed=seed,
        remove_unused_columns=False, dataset_kwargs={"skip_prepare_dataset": True}, gradient_checkpointing=False,
        use_cpu=not torch.cuda.is_available(),
    )
    lora = LoraConfig(r=s.rank, lora_alpha=s.alpha, lora_dropout=s.dropout, bias="none",
                      target_modules=s.target_modules, task_type="CAUSAL_LM")
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=Dataset.from_list(train),
        eval_dataset=Dataset.from_list(validation) if validation else None,
        data_collator=JudgeCollator(tokenizer, image_processor), processing_class=tokenizer, peft_config=lora,
    )
    # 3. train, from the last checkpoint when resuming
    last = get_last_checkpoint(str(checkpoints)) if resume and checkpoints.is_dir() else None
    result = trainer.train(resume_from_checkpoint=last)
    metrics = trainer.evaluate() if validation else {}
    # 4. the adapter and what made it
    adapter = out / "adapter"
    if trainer.is_world_process_zero():
        trainer.model.save_pretrained(str(adapter))
        provenance = {
            "backend": "local", "base": base, "resumed_from": last, "global_step": result.global_step,
            "train_loss": result.training_loss, "eval_loss": metrics.get("eval_loss"),
            "examples": {"train": len(train), "validation": len(validation)},
            "dataset_split_sha256": file_sha256(set_dir / "split.json"),
            "lora": {"rank": s.rank, "alpha": s.alpha, "dropout": s.dropout, "target_modules": s.target_modules},
            "adapter_sha256": file_sha256(adapter / "adapter_model.safetensors"),
        }
        (adapter / TUNING_FILE).write_text(json.dumps(provenance, indent=2), encoding="utf-8")
    return adapter
