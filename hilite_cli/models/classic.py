"""`classic`: a weights-free OpenCV editor for offline runs and CI.

It parses the instruction with explicit keyword rules into operations it can really do
(inpainting removal inside a mask, colour/tone/style filters) and refuses everything else with
`RecordError("unsupported_instruction", ...)`: it never returns the input unchanged, and it never
applies part of an instruction while silently ignoring the rest.

Knobs: the text-influence level maps (configs/models.toml [models.classic.scale]) onto the effect
strength in [0.1, 1], the blend weight between the source and the fully applied filter (1 = full
effect, the default). `steps` and `image_influence` do not apply. Removal always inpaints fully.
Every operation is deterministic, so every seed gives the same image: the registry marks it
`deterministic`, so stages make one candidate for any number of attempts (`SEED_NOTE` says so).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from hilite_cli.models.base import ModelSpec
from hilite_cli.models.registry import call_kwargs
from hilite_cli.records import RecordError

SEED_NOTE = "deterministic OpenCV filters: every seed gives the same image, so one candidate stands for all attempts"
DEFAULT_STRENGTH = 1.0

# Effect constants: the look of each filter at full strength.
SEPIA = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])
WARM_GAINS = np.array([1.15, 1.0, 0.85])  # R, G, B
COOL_GAINS = np.array([0.85, 1.0, 1.15])
BRIGHTER_GAMMA = 0.6
DARKER_GAMMA = 1.6
BLUR_SIGMA_FRACTION = 0.01  # Gaussian sigma as a fraction of the long side
SHARPEN_AMOUNT = 1.0  # unsharp mask: img + amount * (img - blurred)
INPAINT_RADIUS = 3

Filter = Callable[[np.ndarray], np.ndarray]


def _grayscale(rgb: np.ndarray) -> np.ndarray:
    import cv2

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return np.repeat(gray[..., None], 3, axis=2)


def _sepia(rgb: np.ndarray) -> np.ndarray:
    return np.clip(rgb.astype(np.float64) @ SEPIA.T, 0, 255).round().astype(np.uint8)


def _gains(gains: np.ndarray) -> Filter:
    return lambda rgb: np.clip(rgb.astype(np.float64) * gains, 0, 255).round().astype(np.uint8)


def _gamma(gamma: float) -> Filter:
    table = np.clip(255.0 * (np.arange(256) / 255.0) ** gamma, 0, 255).round().astype(np.uint8)
    return lambda rgb: table[rgb]


def _blur(rgb: np.ndarray) -> np.ndarray:
    import cv2

    sigma = max(1.0, BLUR_SIGMA_FRACTION * max(rgb.shape[:2]))
    return cv2.GaussianBlur(rgb, (0, 0), sigma)


def _sharpen(rgb: np.ndarray) -> np.ndarray:
    import cv2

    blurred = cv2.GaussianBlur(rgb, (0, 0), 1.0)
    return cv2.addWeighted(rgb, 1.0 + SHARPEN_AMOUNT, blurred, -SHARPEN_AMOUNT, 0)


def _cartoon(rgb: np.ndarray) -> np.ndarray:
    """Flattened colours (repeated bilateral filtering) under dark edges (adaptive threshold)."""
    import cv2

    colour = rgb
    for _ in range(3):
        colour = cv2.bilateralFilter(colour, 7, 50, 7)
    gray = cv2.medianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 5)
    block = max(3, (min(rgb.shape[:2]) // 16) | 1)
    edges = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, 2)
    return cv2.bitwise_and(colour, colour, mask=edges)


def _pencil(rgb: np.ndarray) -> np.ndarray:
    import cv2

    gray, _colour = cv2.pencilSketch(rgb, sigma_s=60, sigma_r=0.07, shade_factor=0.05)
    return np.repeat(gray[..., None], 3, axis=2)


def _invert(rgb: np.ndarray) -> np.ndarray:
    return 255 - rgb


@dataclass(frozen=True)
class Operation:
    """One thing the editor can really do, and the phrases that ask for it."""

    name: str
    pattern: re.Pattern[str]
    apply: Filter | None  # None: removal, which needs the mask rather than a filter


def _op(name: str, phrases: str, apply: Filter | None) -> Operation:
    return Operation(name, re.compile(rf"\b(?:{phrases})\b"), apply)


# Order is the order operations are applied in when an instruction asks for several.
OPERATIONS: tuple[Operation, ...] = (
    _op("remove", r"remove|erase|delete|get\s+rid\s+of|take\s+(?:out|away)|eliminate", None),
    _op(
        "grayscale",
        r"gr[ae]y[\s-]?scale|black[\s-]*(?:and|&|n)[\s-]*white|b\s*&\s*w|b/w|monochrome|monochromatic"
        r"|desaturated?|colou?rless",
        _grayscale,
    ),
    _op("sepia", r"sepia(?:[\s-]toned?)?|vintage", _sepia),
    _op("warmer", r"warm(?:er|ed|th)?|golden", _gains(WARM_GAINS)),
    _op("cooler", r"cool(?:er|ed)?|cold(?:er)?|bluer|bluish", _gains(COOL_GAINS)),
    _op(
        "brighter",
        r"bright(?:er|en)?|lighter|lighten|(?:increase|raise|boost)\s+(?:the\s+)?brightness|more\s+light",
        _gamma(BRIGHTER_GAMMA),
    ),
    _op(
        "darker",
        r"dark(?:er|en)?|dimmer|dim|(?:reduce|decrease|lower)\s+(?:the\s+)?brightness",
        _gamma(DARKER_GAMMA),
    ),
    _op("blur", r"blur(?:red|ry)?|out\s+of\s+focus|soft[\s-]?focus|defocus(?:ed)?", _blur),
    _op("sharpen", r"sharp(?:en|er)?|crisp(?:er)?", _sharpen),
    _op("cartoon", r"cartoon(?:ish|y|ized|ised|ize|ise)?|comic(?:\s+book)?", _cartoon),
    _op("pencil_sketch", r"pencil(?:\s+(?:sketch|drawing))?|sketch(?:ed)?|line\s+drawing", _pencil),
    _op("invert", r"invert(?:ed)?|negative|inverse", _invert),
)

CAPABILITIES = (
    "remove/erase inside a mask (inpainting), grayscale / black and white, sepia, warmer, cooler, "
    "brighter, darker, blur, sharpen, cartoon, pencil sketch, invert colours"
)

CONTRADICTIONS = ({"brighter", "darker"}, {"warmer", "cooler"}, {"blur", "sharpen"})

# Words that carry no edit of their own: an instruction made only of these and operation phrases
# is fully understood.
FILLER = frozenset(
    """
    a an the it its it's this that these those image photo photograph picture pic scene shot whole entire
    overall everything all make makes making turn convert apply give add look looks like more much bit
    little slightly somewhat some very really quite lot please and then also to into in of with as so too be
    is should up effect filter style styled tone tones toned toning version mode colors colours color colour
    render rendered transform change drawing
    """.split()
)
# Words that reverse or weaken what follows: keyword rules cannot parse them safely.
NEGATIONS = frozenset("not don't dont never no without less reduce decrease lower undo".split())
# Verbs that introduce an edit the classic editor cannot do when followed by an object it does not know.
OTHER_EDITS = frozenset("add insert put place replace swap move rotate flip crop resize enlarge shrink change".split())


def parse_instruction(instruction: str, *, has_mask: bool) -> list[Operation]:
    """The operations `instruction` asks for, or `RecordError("unsupported_instruction")`.

    Unknown words are accepted only with a mask (they name the masked region, as in "remove the
    cat"), and never after a verb that asks for another kind of edit ("add a hat").
    """
    text = instruction.lower()
    ops = [op for op in OPERATIONS if op.pattern.search(text)]
    leftover = text
    for op in ops:
        leftover = op.pattern.sub(" ", leftover)
    words = re.findall(r"[a-z][a-z'&/-]*", leftover)

    def refuse(why: str) -> RecordError:
        return RecordError(
            "unsupported_instruction",
            f"classic editor cannot do {instruction!r}: {why}. It can do: {CAPABILITIES}",
        )

    if not ops:
        raise refuse("no operation it knows")
    negated = sorted(NEGATIONS.intersection(words))
    if negated:
        raise refuse(f"it contains {', '.join(negated)!s}, which keyword rules cannot interpret safely")
    names = {op.name for op in ops}
    for pair in CONTRADICTIONS:
        if pair <= names:
            raise refuse(f"it asks for both {' and '.join(sorted(pair))}")
    if "remove" in names and not has_mask:
        raise RecordError(
            "missing_input", f"classic editor: {instruction!r} needs a non-empty `mask` to know what to remove"
        )
    if "remove" in names and len(ops) > 1:
        raise refuse("removal cannot be combined with other operations (the mask would mean two things)")
    unknown = [w for w in words if w not in FILLER]
    if unknown and (not has_mask or OTHER_EDITS.intersection(words)):
        where = "without a mask to locate it" if not has_mask else "as part of another kind of edit"
        raise refuse(f"it mentions {' '.join(unknown)!r}, which it cannot act on {where}")
    return ops


def _inpaint(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    import cv2

    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    filled = cv2.inpaint(bgr, mask.astype(np.uint8) * 255, INPAINT_RADIUS, cv2.INPAINT_TELEA)
    return cv2.cvtColor(filled, cv2.COLOR_BGR2RGB)


def _strength(spec: ModelSpec, params: dict[str, Any], default: float) -> float:
    """The native blend weight the text-influence level (or --param classic.strength) maps to."""
    return float(call_kwargs(spec, params).get("strength", default))


class ClassicEditor:
    """Implements the Editor interface (hilite_cli.models.base) with OpenCV and numpy only."""

    seed_note = SEED_NOTE

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec

    def _default_strength(self) -> float:
        value = self.spec.defaults.text_influence
        return DEFAULT_STRENGTH if value is None else float(value)

    def edit(
        self,
        image: Image.Image,
        *,
        prompt: str | None,
        seeds: list[int],
        params: dict[str, Any],
        source_prompt: str | None = None,
        target_prompt: str | None = None,
        mask: np.ndarray | None = None,
        reference: Image.Image | None = None,
    ) -> list[Image.Image]:
        """Apply the operations `prompt` asks for; one (identical) image per seed.

        With a mask, filters act only inside it and removal inpaints it; without one they act on
        the whole image and removal is refused.
        """
        if not prompt:
            raise RecordError("missing_input", "classic editor needs an instruction (`prompt`)")
        rgb = np.asarray(image.convert("RGB"))
        if mask is not None and (mask.shape != rgb.shape[:2] or not mask.any()):
            raise RecordError(
                "bad_mask",
                f"classic editor: `mask` must be a non-empty {rgb.shape[:2]} array, got shape {mask.shape}"
                f" with {int(np.count_nonzero(mask))} pixels set",
            )
        ops = parse_instruction(prompt, has_mask=mask is not None)
        strength = _strength(self.spec, params, self._default_strength())
        out = rgb
        for op in ops:
            if op.apply is None:
                out = _inpaint(out, mask)
                continue
            effect = op.apply(out).astype(np.float64)
            out = np.clip(out + strength * (effect - out), 0, 255).round().astype(np.uint8)
        if mask is not None:
            out = np.where(mask.astype(bool)[..., None], out, rgb)
        if np.array_equal(out, rgb):
            raise RecordError(
                "no_change", f"classic editor: {prompt!r} has no visible effect on this image at strength {strength}"
            )
        result = Image.fromarray(np.ascontiguousarray(out, dtype=np.uint8), mode="RGB")
        return [result.copy() for _ in seeds]
