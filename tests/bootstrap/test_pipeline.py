"""validate -> invert -> bootstrap, each stage run by the real executor over the previous one's manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.scripted_judge import ScriptedJudge, candidate, run_through, scores, write_block_edit, write_source

from hilite_cli.stages.bootstrap import BootstrapStage
from hilite_cli.stages.invert import InvertStage
from hilite_cli.stages.validate import ValidateStage


def test_chain_builds_forward_inverse_and_bootstrap_triplets(tmp_path: Path, judge: ScriptedJudge, spec: str,
                                                            options: dict[str, Any]) -> None:
    images = tmp_path / "images"
    images.mkdir()
    s0, s1 = write_source(images / "s0.png", 0), write_source(images / "s1.png", 1)
    plan = [  # (source, instruction, colour, adherence, aesthetics)
        (s0, "Remove the cat.", 10, 4.8, 4.8),
        (s0, "Remove the cat.", 20, 5.0, 4.9),  # best for (s0, cat)
        (s0, "Remove the lamp.", 30, 4.9, 4.9),  # best for (s0, lamp)
        (s0, "Remove the lamp.", 40, 3.0, 3.0),
        (s1, "Remove the cat.", 50, 4.9, 5.0),  # passes, but s1 had no cat: the backward check drops it
    ]
    candidates = []
    for i, (src, instruction, colour, adh, aes) in enumerate(plan):
        out = write_block_edit(src, images / f"e{i}.png", (colour, 0, 0))
        judge.score(instruction, out, scores(adh, aes))
        candidates.append(candidate(f"c{i}", src, instruction, out, t2i_prompt="a cat on a sofa next to a lamp"))
    judge.inversions["Remove the cat."] = ("Add a grey cat on the sofa.",)
    judge.inversions["Remove the lamp."] = ("Add a lamp beside the sofa.",)
    judge.score("Add a grey cat on the sofa.", s0, scores(4.9, 4.9))
    judge.score("Add a lamp beside the sofa.", s0, scores(4.8, 4.9))
    judge.score("Add a grey cat on the sofa.", s1, scores(1.5, 4.0))

    forward, errors, _ = run_through(ValidateStage(spec, select="best", provider_options=options), candidates,
                                     tmp_path / "validate")
    assert errors == [] and sorted(t["parents"][0] for t in forward) == ["c1", "c2", "c4"]

    inverted, errors, summary = run_through(
        InvertStage(spec, backward_check=True, judge=spec, provider_options=options), forward, tmp_path / "invert")
    assert errors == [] and summary.extra["backward_removed_pairs"] == 1
    assert sorted((t["kind"], t["instruction"]) for t in inverted) == [
        ("forward", "Remove the cat."), ("forward", "Remove the lamp."),
        ("inverse", "Add a grey cat on the sofa."), ("inverse", "Add a lamp beside the sofa.")]

    dataset, errors, _ = run_through(BootstrapStage(), inverted, tmp_path / "bootstrap")
    assert errors == []
    composed = sorted(t["instruction"] for t in dataset if t["kind"] == "bootstrap")
    assert composed == ["Add a grey cat on the sofa and remove the lamp.", "Add a lamp beside the sofa and remove the cat."]
    assert len(dataset) == 6 and len({t["id"] for t in dataset}) == 6
    by_id = {t["id"]: t for t in dataset}
    for t in dataset:
        assert all(p in by_id or p.startswith("c") for p in t["parents"])  # provenance resolves inside the set
        assert Path(t["source"]).is_file() and Path(t["edited"]).is_file()
