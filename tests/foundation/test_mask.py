"""`hilite mask`: pixel-exact checks of every mode, one-off and manifest forms."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import orjson
from PIL import Image

from hilite_cli.images import load_mask
from hilite_cli.stages.mask import (
    MaskSpec,
    box_mask,
    finish_mask,
    parse_strokes,
    polygon_mask,
    strokes_mask,
)
from support.cli import hilite
from support.photos import photo, save_photo


def test_box_in_pixels_and_fractions() -> None:
    m = box_mask((10, 8), (2, 1, 5, 4))
    assert m.shape == (8, 10) and m.sum() == 9 and m[1:4, 2:5].all()
    f = box_mask((100, 40), (0.25, 0.25, 0.75, 0.75))
    assert f[10:30, 25:75].all() and f.sum() == 20 * 50


def test_polygon_triangle() -> None:
    m = polygon_mask((20, 20), [(0, 0), (19, 0), (0, 19)])
    assert m[0, 0] and m[0, 18] and m[18, 0] and not m[19, 19]
    assert abs(m.sum() - 210) <= 20  # area of the right triangle of side 20, give or take the edge


def test_strokes_simple_and_fabric_formats_agree() -> None:
    simple, canvas = parse_strokes({"strokes": [{"points": [[5, 10], [25, 10]], "radius": 2}]})
    fabric, _ = parse_strokes({"objects": [{"type": "path", "strokeWidth": 4, "path": [["M", 5, 10], ["L", 25, 10]]}]})
    a = strokes_mask((32, 32), simple, canvas)
    b = strokes_mask((32, 32), fabric)
    assert np.array_equal(a, b)
    assert a[10, 5:26].all() and a[8:13, 15].all() and not a[14, 15] and not a[10, 29]


def test_strokes_scale_from_canvas_size() -> None:
    strokes, canvas = parse_strokes({"width": 16, "height": 16, "strokes": [{"points": [[8, 8]], "radius": 1}]})
    m = strokes_mask((64, 64), strokes, canvas)
    ys, xs = np.nonzero(m)
    assert abs(xs.mean() - 32) < 1 and abs(ys.mean() - 32) < 1 and m.sum() > 9


def test_diff_marks_changed_block_and_drops_specks() -> None:
    src = np.asarray(photo("astronaut", 64)).copy()
    edited = src.copy()
    edited[20:40, 10:30] = 255 - edited[20:40, 10:30]
    edited[5, 50] = 255 - edited[5, 50]  # an isolated speck: morphology removes it
    changed = np.abs(edited.astype(int) - src.astype(int)).max(-1) > 40
    m = MaskSpec(diff="x").draw(src, edited)
    inner = changed[21:39, 11:29]
    assert m[21:39, 11:29][inner].all()
    assert not m[5, 50]
    assert not m[45:, :].any()


def test_finish_dilate_invert_feather() -> None:
    base = np.zeros((21, 21), dtype=bool)
    base[10, 10] = True
    d = finish_mask(base, dilate=2)
    assert d.sum() == 17 and d[8, 10] and d[10, 12] and d[9, 8] and not d[8, 9]  # OpenCV 5x5 ellipse
    inv = finish_mask(base, invert=True)
    assert inv.sum() == 21 * 21 - 1
    soft = finish_mask(box_mask((41, 41), (10, 10, 31, 31)), feather=2.0)
    assert soft.dtype == np.uint8 and soft[20, 20] == 255 and soft[0, 0] == 0
    assert 100 < soft[10, 20] < 160  # the edge sits at half height
    assert np.all(np.diff(soft[20, :21].astype(int)) >= 0)  # monotone ramp into the box


def test_one_off_box(tmp_path: Path) -> None:
    img = save_photo(tmp_path, "coffee", 40)
    res = hilite("mask", str(img), "--box", "0.25,0.25,0.75,0.75", "-o", str(tmp_path / "m.png"))
    assert res.returncode == 0, res.stderr
    m = np.asarray(Image.open(tmp_path / "m.png"))
    assert m.ndim == 2 and set(np.unique(m)) == {0, 255}
    assert (m[10:30, 10:30] == 255).all() and m.sum() == 20 * 20 * 255


def test_one_off_polygon_strokes_invert(tmp_path: Path) -> None:
    img = save_photo(tmp_path, "rocket", 32)
    strokes = tmp_path / "s.json"
    strokes.write_text(json.dumps({"strokes": [{"points": [[2, 2]], "radius": 1}]}))
    res = hilite("mask", str(img), "--polygon", "16,16 31,16 31,31 16,31", "--strokes", str(strokes),
                 "--invert", "-o", str(tmp_path / "m.png"))
    assert res.returncode == 0, res.stderr
    m = load_mask(tmp_path / "m.png")
    assert not m[20, 20] and not m[2, 2] and m[2, 10] and m[10, 2]


def test_pipe_with_bad_line_keeps_good_records(tmp_path: Path) -> None:
    img = save_photo(tmp_path, "astronaut", 32)
    good = [orjson.dumps({"id": f"t{i}", "image": img.name, "instruction": "x", "user": i}) for i in range(4)]
    lines = good[:2] + [b"{broken"] + good[2:] + [orjson.dumps({"id": "gone", "image": "missing.png"})]
    (tmp_path / "tasks.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    res = hilite("mask", "-", "--box", "0.25,0.25,0.75,0.75", "--out", "masks/",
                 stdin=(tmp_path / "tasks.jsonl").read_bytes(), cwd=tmp_path)
    assert res.returncode == 1
    out = [orjson.loads(x) for x in res.stdout.splitlines()]
    assert [r["id"] for r in out] == ["t0", "t1", "t2", "t3"]
    assert [r["user"] for r in out] == [0, 1, 2, 3]
    for r in out:
        m = load_mask(tmp_path / r["mask"])
        assert m[8:24, 8:24].all() and m.sum() == 256
    errors = [orjson.loads(x) for x in (tmp_path / "hilite-mask.errors.jsonl").read_bytes().splitlines()]
    assert len(errors) == 2
    assert errors[0]["line"] == 3 and "line 3" in errors[0]["error"]["message"]
    assert errors[1]["id"] == "gone" and "line 6" in errors[1]["error"]["message"]
    assert b"done, 2 failed" in res.stderr


def test_diff_from_record_field(tmp_path: Path) -> None:
    src = photo("chelsea", 32)
    edited = np.asarray(src).copy()
    edited[8:24, 8:24] = 0
    src.save(tmp_path / "s.png")
    Image.fromarray(edited).save(tmp_path / "e.png")
    (tmp_path / "c.jsonl").write_bytes(orjson.dumps({"id": "c", "image": "s.png", "output": "e.png"}) + b"\n")
    res = hilite("mask", "c.jsonl", "--diff", "output", "--field", "change_mask", "-o", "o.jsonl", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    [rec] = [orjson.loads(x) for x in (tmp_path / "o.jsonl").read_bytes().splitlines()]
    changed = np.abs(edited.astype(int) - np.asarray(src).astype(int)).max(-1) > 40
    m = load_mask(tmp_path / rec["change_mask"])
    assert m[9:23, 9:23][changed[9:23, 9:23]].all() and not m[:6].any()


def test_missing_input_manifest_is_usage_error(tmp_path: Path) -> None:
    res = hilite("mask", "nope.jsonl", "--box", "0,0,1,1", cwd=tmp_path)
    assert res.returncode == 2 and b"not found" in res.stderr
    res = hilite("mask", "nope.jsonl", cwd=tmp_path)
    assert res.returncode == 2 and b"choose what to mask" in res.stderr
