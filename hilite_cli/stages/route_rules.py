"""The offline router: keyword intent detection and template prompt rewriting, honest about being rules.

No model sees the image, so source descriptions are generic ("a photo ..."); records routed this
way say `router: {provider: "offline", model: "rules"}`.
"""

from __future__ import annotations

import re
from typing import Any

from hilite_cli.providers.schemas import RouteDecision

RULES_VERSION = "rules-1"

# (pattern, source template, target template); {a}/{b} are the captured objects.
_PHRASES: dict[str, tuple[str, str, str]] = {
    "object_swap": (
        r"(?:replace|swap|substitute|exchange)\s+(?P<a>.+?)\s+(?:with|for|by)\s+(?P<b>.+)"
        r"|(?:change|turn|transform|convert)\s+(?P<a2>.+?)\s+(?:into|to)\s+(?P<b2>.+)",
        "a photo with {a}",
        "a photo with {b}",
    ),
    "object_removal": (
        r"(?:remove|delete|erase|get rid of|take out|take away|eliminate|yeet)\s+(?P<a>.+)",
        "a photo with {a}",
        "a photo without {a}",
    ),
    "object_insertion": (r"(?:add|insert|put|place|include)\s+(?P<a>.+)", "a photo", "a photo with {a}"),
}


def normalise(instruction: str) -> str:
    """Collapse whitespace, drop wrapping quotes, capitalise, end with a full stop."""
    text = " ".join(instruction.split()).strip("\"' ")
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def detect_intent(instruction: str, rules: dict[str, Any]) -> str:
    """The first intent in `rules.order` whose keywords match, else `rules.fallback`."""
    text = instruction.lower()
    for intent in rules["order"]:
        for keyword in rules["keywords"].get(intent, []):
            if re.search(rf"\b(?:{keyword})\b", text):
                return intent
    return rules["fallback"]


def rule_decision(instruction: str, rules: dict[str, Any]) -> RouteDecision:
    """A RouteDecision from rules alone: the same shape an LLM router returns."""
    intent = detect_intent(instruction, rules)
    clean = normalise(instruction)
    core = clean.rstrip(".!?")
    source, target = "a photo", f"a photo after this edit: {core[:1].lower() + core[1:]}"
    if intent in _PHRASES:
        pattern, source_tpl, target_tpl = _PHRASES[intent]
        match = re.search(pattern, core, flags=re.IGNORECASE)
        if match:
            groups = {k: v for k, v in match.groupdict().items() if v}
            a = groups.get("a") or groups.get("a2", "")
            b = groups.get("b") or groups.get("b2", "")
            source, target = source_tpl.format(a=a, b=b), target_tpl.format(a=a, b=b)
    return RouteDecision(intent=intent, instruction_prompt=clean or instruction, source_prompt=source,
                         target_prompt=target)
