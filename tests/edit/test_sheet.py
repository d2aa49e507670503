"""Contact sheet: a grid PNG with the source and the candidates, labelled by slot only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from hilite_cli.report.contact_sheet import GAP, LABEL_HEIGHT, MAX_COLUMNS, TILE, contact_sheet


def solid(colour: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> Image.Image:
    return Image.new("RGB", size, colour)


def tile_centre(index: int) -> tuple[int, int]:
    row, col = divmod(index, MAX_COLUMNS)
    return GAP + col * (TILE + GAP) + TILE // 2, GAP + row * (TILE + LABEL_HEIGHT + GAP) + TILE // 2


def test_grid_holds_source_then_candidates_in_slot_order(tmp_path: Path) -> None:
    colours = [(200, 0, 0), (0, 200, 0), (0, 0, 200), (200, 200, 0), (0, 200, 200)]
    candidates = [(slot, solid(c)) for slot, c in zip("ABCD", colours[1:])]
    path = contact_sheet(solid(colours[0]), candidates, tmp_path / "sheet.png")
    sheet = Image.open(path)
    assert sheet.format == "PNG"
    assert sheet.size == (MAX_COLUMNS * TILE + (MAX_COLUMNS + 1) * GAP, 2 * (TILE + LABEL_HEIGHT) + 3 * GAP)
    for i, colour in enumerate(colours):
        assert sheet.getpixel(tile_centre(i)) == colour


def test_labels_are_drawn_and_differ_by_slot(tmp_path: Path) -> None:
    def label_band(slot: str) -> np.ndarray:
        path = contact_sheet(solid((9, 9, 9)), [(slot, solid((9, 9, 9)))], tmp_path / f"{slot}.png")
        rows = slice(GAP + TILE, GAP + TILE + LABEL_HEIGHT)
        cols = slice(GAP + TILE + GAP, GAP + 2 * TILE + GAP)
        band = np.asarray(Image.open(path))[rows, cols]
        assert (band < 128).any()  # some ink
        return band

    assert not np.array_equal(label_band("A"), label_band("B"))


def test_written_atomically_without_leftovers(tmp_path: Path) -> None:
    target = tmp_path / "sheets" / "one.png"
    contact_sheet(solid((1, 2, 3)), [], target)
    assert [p.name for p in target.parent.iterdir()] == ["one.png"]
    assert Image.open(target).size == (TILE + 2 * GAP, TILE + LABEL_HEIGHT + 2 * GAP)
