"""`--export KIND FILE` takes two words; a flag after KIND is never taken for the file."""

from __future__ import annotations

from hilite_cli.cli.app import join_pair_options


def test_pair_is_joined() -> None:
    assert join_pair_options(["validate", "c.jsonl", "--export", "kto", "k.jsonl", "--no-progress"]) == [
        "validate", "c.jsonl", "--export", "kto=k.jsonl", "--no-progress"]


def test_a_flag_is_not_a_file_name() -> None:
    assert join_pair_options(["validate", "--export", "kto", "--no-progress"]) == [
        "validate", "--export", "kto", "--no-progress"]
    assert join_pair_options(["validate", "--export", "kto=k.jsonl", "-o", "x"]) == [
        "validate", "--export", "kto=k.jsonl", "-o", "x"]
