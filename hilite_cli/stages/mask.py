"""`mask`: single-channel masks for mask-guided editors and for NHR's change analysis.

Shapes (box, polygon, brush strokes) are unioned; then `dilate`, `invert` and `feather` apply in that
order. `diff` marks pixels where |edited − source| exceeds the NHR threshold, cleaned by morphology.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from hilite_cli.images import ImageError, load_image, mask_to_image, save_image
from hilite_cli.records import Record, RecordError
from hilite_cli.stages.base import Stage

Point = tuple[float, float]


def parse_numbers(text: str, what: str) -> list[float]:
    try:
        return [float(v) for v in text.replace(";", ",").replace(" ", ",").split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"`{what}` must be comma-separated numbers, got {text!r}") from None


def parse_box(text: str) -> tuple[float, float, float, float]:
    """`x0,y0,x1,y1` in pixels, or all four in [0, 1] as fractions of the width and height."""
    values = parse_numbers(text, "--box")
    if len(values) != 4:
        raise ValueError(f"`--box` needs 4 numbers x0,y0,x1,y1, got {text!r}")
    x0, y0, x1, y1 = values
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"`--box` needs x1 > x0 and y1 > y0, got {text!r}")
    return x0, y0, x1, y1


def parse_polygon(text: str) -> list[Point]:
    """`x,y x,y x,y …` (or one flat comma list): at least three vertices, pixels or fractions."""
    values = parse_numbers(text, "--polygon")
    if len(values) < 6 or len(values) % 2:
        raise ValueError(f"`--polygon` needs at least 3 x,y vertices, got {text!r}")
    return list(zip(values[0::2], values[1::2], strict=True))


def _fractional(values: list[float]) -> bool:
    return all(0.0 <= v <= 1.0 for v in values)


def _scale_points(points: list[Point], size: tuple[int, int]) -> np.ndarray:
    w, h = size
    flat = [c for p in points for c in p]
    if _fractional(flat):
        return np.array([[x * w, y * h] for x, y in points], dtype=np.float64)
    return np.array(points, dtype=np.float64)


def box_mask(size: tuple[int, int], box: tuple[float, float, float, float]) -> np.ndarray:
    """Pixels [x0, x1) × [y0, y1); fractions are scaled by the image size and rounded."""
    w, h = size
    x0, y0, x1, y1 = box
    if _fractional([x0, y0, x1, y1]):
        x0, x1, y0, y1 = x0 * w, x1 * w, y0 * h, y1 * h
    c0, c1 = max(0, round(x0)), min(w, round(x1))
    r0, r1 = max(0, round(y0)), min(h, round(y1))
    mask = np.zeros((h, w), dtype=bool)
    mask[r0:r1, c0:c1] = True
    return mask


def polygon_mask(size: tuple[int, int], points: list[Point]) -> np.ndarray:
    import cv2

    w, h = size
    canvas = np.zeros((h, w), dtype=np.uint8)
    cv2.fillPoly(canvas, [np.round(_scale_points(points, size)).astype(np.int32)], 1)
    return canvas.astype(bool)


@dataclass
class Stroke:
    points: list[Point]
    radius: float


def _fabric_path_points(path: list[list[Any]]) -> list[Point]:
    """Vertices of a fabric.js path (streamlit-drawable-canvas freedraw): M/L/Q/C commands' end points."""
    points: list[Point] = []
    for cmd in path:
        if len(cmd) >= 3 and isinstance(cmd[0], str):
            coords = [float(v) for v in cmd[1:]]
            points.extend(zip(coords[0::2], coords[1::2], strict=True))
    return points


def parse_strokes(data: dict[str, Any] | list[Any]) -> tuple[list[Stroke], tuple[int, int] | None]:
    """Brush strokes as a drawing canvas exports them, plus the canvas size if given.

    Accepts `{"width", "height", "strokes": [{"points": [[x, y], …], "radius": r}]}` and the fabric.js
    JSON that streamlit-drawable-canvas (HILITE's mask canvas) exports: `{"objects": [{"type": "path",
    "path": [["M", x, y], ["Q", …], …], "strokeWidth": w}]}`.
    """
    if isinstance(data, list):
        data = {"strokes": data}
    canvas = (int(data["width"]), int(data["height"])) if "width" in data and "height" in data else None
    strokes: list[Stroke] = []
    for item in data.get("strokes", []):
        pts = [(float(x), float(y)) for x, y in item["points"]]
        strokes.append(Stroke(pts, float(item.get("radius", 10))))
    for obj in data.get("objects", []):
        if obj.get("type") == "path":
            strokes.append(Stroke(_fabric_path_points(obj["path"]), float(obj.get("strokeWidth", 20)) / 2))
    if not strokes:
        raise ValueError("strokes file holds no strokes (expected `strokes` or fabric.js `objects` of type path)")
    return strokes, canvas


def strokes_mask(size: tuple[int, int], strokes: list[Stroke], canvas: tuple[int, int] | None = None) -> np.ndarray:
    """Each stroke is a polyline of round brushes of its radius; canvas coordinates scale to the image."""
    import cv2

    w, h = size
    sx, sy = (w / canvas[0], h / canvas[1]) if canvas else (1.0, 1.0)
    out = np.zeros((h, w), dtype=np.uint8)
    for stroke in strokes:
        pts = np.round(np.array([[x * sx, y * sy] for x, y in stroke.points])).astype(np.int32)
        r = max(1, round(stroke.radius * (sx + sy) / 2))
        for x, y in pts:
            cv2.circle(out, (int(x), int(y)), r, 1, thickness=-1)
        if len(pts) > 1:
            cv2.polylines(out, [pts], isClosed=False, color=1, thickness=2 * r)
    return out.astype(bool)


def diff_mask(source: np.ndarray, edited: np.ndarray, threshold: int, clean: int = 1) -> np.ndarray:
    """Changed pixels (NHR: |I_e − I_0| > threshold), opened then closed to drop specks and fill pinholes."""
    import cv2

    from hilite_cli.metrics.lowlevel import changed_mask

    changed = changed_mask(source, edited, threshold).astype(np.uint8)
    if clean > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * clean + 1, 2 * clean + 1))
        changed = cv2.morphologyEx(changed, cv2.MORPH_OPEN, kernel)
        changed = cv2.morphologyEx(changed, cv2.MORPH_CLOSE, kernel)
    return changed.astype(bool)


def finish_mask(mask: np.ndarray, *, dilate: int = 0, invert: bool = False, feather: float = 0.0) -> np.ndarray:
    """Dilate by `dilate` px, invert, then feather (Gaussian sigma in px): bool, or uint8 0–255 if feathered."""
    import cv2

    if dilate > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1, 2 * dilate + 1))
        mask = cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)
    if invert:
        mask = ~mask
    if feather > 0:
        soft = cv2.GaussianBlur(mask.astype(np.float32) * 255.0, (0, 0), sigmaX=feather)
        return np.clip(np.round(soft), 0, 255).astype(np.uint8)
    return mask


@dataclass
class MaskSpec:
    """What to draw. Shapes union; `diff` names an edited image path or a record field holding one."""

    box: tuple[float, float, float, float] | None = None
    polygon: list[Point] | None = None
    strokes: list[Stroke] = field(default_factory=list)
    canvas: tuple[int, int] | None = None
    diff: str | None = None
    text: str | None = None
    text_threshold: float = 0.4
    segmenter: str = "CIDAS/clipseg-rd64-refined"
    threshold: int = 40
    clean: int = 1
    dilate: int = 0
    invert: bool = False
    feather: float = 0.0

    def check(self) -> None:
        if not (self.box or self.polygon or self.strokes or self.diff or self.text):
            raise ValueError("choose what to mask: --box, --polygon, --strokes, --diff or --text")

    def draw(self, image: np.ndarray, edited: np.ndarray | None = None) -> np.ndarray:
        h, w = image.shape[:2]
        size = (w, h)
        mask = np.zeros((h, w), dtype=bool)
        if self.box:
            mask |= box_mask(size, self.box)
        if self.polygon:
            mask |= polygon_mask(size, self.polygon)
        if self.strokes:
            mask |= strokes_mask(size, self.strokes, self.canvas)
        if self.text:
            mask |= self._text_mask(image)
        if edited is not None:
            if edited.shape != image.shape:
                raise RecordError("size_mismatch", f"edited image is {edited.shape[1]}x{edited.shape[0]}, source is {w}x{h}")
            mask |= diff_mask(image, edited, self.threshold, self.clean)
        return finish_mask(mask, dilate=self.dilate, invert=self.invert, feather=self.feather)


    def _text_mask(self, image: np.ndarray) -> np.ndarray:
        from PIL import Image

        from hilite_cli.models.segment import text_mask

        seg = Path(self.segmenter)
        return text_mask(
            Image.fromarray(image),
            self.text,
            model=self.segmenter,
            weights_dir=seg if seg.is_dir() else None,
            threshold=self.text_threshold,
        )


def load_strokes(path: Path) -> tuple[list[Stroke], tuple[int, int] | None]:
    try:
        return parse_strokes(json.loads(Path(path).read_text()))
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"cannot read strokes from {path}: {exc}") from None


class MaskStage(Stage):
    """Adds a mask PNG (written under `out_dir`) to each task record, in `field` (default `mask`)."""

    name: ClassVar[str] = "mask"

    def __init__(self, spec: MaskSpec, out_dir: Path, field: str = "mask") -> None:
        spec.check()
        self.spec = spec
        self.out_dir = Path(out_dir)
        self.field = field

    def _edited_path(self, record: Record) -> str:
        value = record.get(self.spec.diff) if self.spec.diff in record else self.spec.diff
        if not isinstance(value, str):
            raise RecordError("missing_field", f"`{self.spec.diff}` is not an image path in this record")
        return value

    def __call__(self, batch: list[Record]) -> list[Record]:
        out = []
        for record in batch:
            if not isinstance(record.get("image"), str):
                raise RecordError("missing_field", "record has no `image` path")
            try:
                image = np.asarray(load_image(record["image"]))
                edited = np.asarray(load_image(self._edited_path(record))) if self.spec.diff else None
            except ImageError as exc:
                raise RecordError("bad_image", str(exc)) from None
            mask = self.spec.draw(image, edited)
            path = save_image(mask_to_image(mask), self.out_dir, prefix="mask-")
            out.append({**record, self.field: str(path)})
        return out
