"""Hosted editors are never routed: named in --models (edit, studio), they run after the routed ones."""

from __future__ import annotations

import pytest

from hilite_cli.store.editing import chosen_models
from hilite_cli.store import StoreError


def test_studio_runs_a_named_hosted_editor_after_the_routed_ones() -> None:
    routed = {"models": [{"name": "flux-kontext", "rank": 2}, {"name": "classic", "rank": 1}]}
    entries = chosen_models(routed, ["classic", "gemini-image:gemini-2.5-flash-image", "not-hosted"], None)
    assert [m["name"] for m in entries] == ["classic", "gemini-image:gemini-2.5-flash-image"]
    assert entries[1]["rank"] == 3
    with pytest.raises(StoreError):
        chosen_models(routed, ["not-hosted"], None)
