"""Contact sheet: the source and its candidates in one PNG, candidates labelled by slot only.

HILITE hides model names to avoid biasing the person choosing, so the sheet never shows them.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from hilite_cli.images import encode_image, write_bytes_atomic

TILE = 256  # long side of each thumbnail, pixels
LABEL_HEIGHT = 28
GAP = 8
MAX_COLUMNS = 4
BACKGROUND = (255, 255, 255)
INK = (0, 0, 0)


def _tile(img: Image.Image, label: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont) -> Image.Image:
    """One thumbnail, centred in a TILE x TILE box, with its label underneath."""
    thumb = img.convert("RGB")
    thumb.thumbnail((TILE, TILE), Image.LANCZOS)
    if max(thumb.size) < TILE:
        scale = TILE / max(thumb.size)
        thumb = thumb.resize((max(1, round(thumb.width * scale)), max(1, round(thumb.height * scale))), Image.NEAREST)
    tile = Image.new("RGB", (TILE, TILE + LABEL_HEIGHT), BACKGROUND)
    tile.paste(thumb, ((TILE - thumb.width) // 2, (TILE - thumb.height) // 2))
    draw = ImageDraw.Draw(tile)
    left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
    origin = ((TILE - (right - left)) // 2, TILE + (LABEL_HEIGHT - (bottom - top)) // 2 - top)
    draw.text(origin, label, fill=INK, font=font)
    return tile


def contact_sheet(
    source: Image.Image, candidates: list[tuple[str, Image.Image]], path: str | os.PathLike[str]
) -> Path:
    """Write a grid PNG: "source" first, then each candidate labelled with its slot; returns the path."""
    font = ImageFont.load_default(size=18)
    tiles = [_tile(source, "source", font)] + [_tile(img, slot, font) for slot, img in candidates]
    columns = min(MAX_COLUMNS, len(tiles))
    rows = math.ceil(len(tiles) / columns)
    tile_w, tile_h = tiles[0].size
    sheet = Image.new("RGB", (columns * tile_w + (columns + 1) * GAP, rows * tile_h + (rows + 1) * GAP), BACKGROUND)
    for i, tile in enumerate(tiles):
        row, col = divmod(i, columns)
        sheet.paste(tile, (GAP + col * (tile_w + GAP), GAP + row * (tile_h + GAP)))
    target = Path(path)
    write_bytes_atomic(target, encode_image(sheet, "png"))
    return target
