"""Write the demo's inputs: real photos that ship with scikit-image, and a tasks manifest for them."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import orjson
from PIL import Image

# Each photo with instructions an offline editor can really carry out (see `hilite models`).
TASKS: dict[str, list[str]] = {
    "astronaut": ["make it black and white", "make it warmer"],
    "chelsea": ["turn it into a pencil sketch", "make the photo brighter"],
    "coffee": ["give it a sepia tone", "make it look like a cartoon"],
    "rocket": ["make it cooler", "sharpen the image"],
}


def main(out: Path, size: int = 256) -> None:
    from skimage import data

    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, instructions in TASKS.items():
        arr = getattr(data, name)()
        img = Image.fromarray(np.asarray(arr)[..., :3]).convert("RGB")
        img.thumbnail((size, size))
        img.save(images / f"{name}.png")
        for i, instruction in enumerate(instructions):
            lines.append(orjson.dumps({"id": f"{name}-{i}", "image": f"images/{name}.png", "instruction": instruction}))
    (out / "tasks.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    print(out / "tasks.jsonl")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "demo_out"), int(sys.argv[2]) if len(sys.argv) > 2 else 256)
