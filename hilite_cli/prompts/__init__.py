"""The papers' prompt templates (NHR appendix A.1–A.6, HILITE routing), loaded by name.

Templates mark their slots as `{{name}}`. Substitution is one regex pass over those markers only,
so the JSON braces in the prompts stay as written and a value containing `{{...}}` is never expanded.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from importlib import resources

PROMPT_NAMES: tuple[str, ...] = (
    "a1_design",
    "a2_evaluation",
    "a3_unwanted",
    "a4_aesthetics",
    "a5_t2i_check",
    "a6_inverse",
    "route",
    "pref_pairwise",  # export --format dpo: the question a vision judge learns to answer A or B
    "pref_single",  # export --format kto: the question a vision judge learns to answer yes to, or not
)

# Values that reproduce the paper's text exactly when a caller does not override them.
DEFAULTS: dict[str, dict[str, str]] = {
    "a1_design": {"batch_size": "50", "theme": "realistic, every-day life"},
}

_SLOT = re.compile(r"\{\{(\w+)\}\}")


@cache
def template(name: str) -> str:
    """The raw template text for `name`."""
    if name not in PROMPT_NAMES:
        raise KeyError(f"unknown prompt `{name}`; known: {', '.join(PROMPT_NAMES)}")
    return resources.files(__package__).joinpath(f"{name}.txt").read_text(encoding="utf-8")


def slots(name: str) -> set[str]:
    """The placeholder names a template expects."""
    return set(_SLOT.findall(template(name)))


def render_prompt(name: str, **values: object) -> str:
    """Fill the `{{slot}}` markers of template `name`; missing or unknown values are errors."""
    expected = slots(name)
    merged = {**DEFAULTS.get(name, {}), **{k: str(v) for k, v in values.items()}}
    missing = expected - merged.keys()
    unknown = set(values) - expected
    if missing or unknown:
        raise ValueError(
            f"prompt `{name}` takes {sorted(expected) or 'no values'}; "
            f"missing {sorted(missing)}, unknown {sorted(unknown)}"
        )
    return _SLOT.sub(lambda m: merged[m.group(1)], template(name))


def prompt_version(name: str) -> str:
    """A short hash of the template text, recorded as provenance beside every answer it produced."""
    return hashlib.sha256(template(name).encode()).hexdigest()[:12]
