"""The per-edit aggregate of NHR Table 4 (after OmniEdit): sqrt(Instruction x Aesthetics)."""

from __future__ import annotations

import math


def geometric_mean(instruction: float | None, aesthetics: float | None) -> float | None:
    """sqrt(instr * aes); None when either score is missing, so a missing score never becomes a number."""
    if instruction is None or aesthetics is None:
        return None
    if instruction < 0 or aesthetics < 0:
        raise ValueError(f"scores must be non-negative, got instruction={instruction}, aesthetics={aesthetics}")
    return math.sqrt(instruction * aesthetics)
