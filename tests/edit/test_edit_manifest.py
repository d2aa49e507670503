"""EditStage under the local executor: manifests in, candidates and error records out."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from hilite_cli.engine.local import run_stage
from hilite_cli.manifest import ErrorManifest, ManifestWriter, read_manifest
from hilite_cli.stages.edit import EditStage


def test_manifest_run_splits_candidates_and_errors(
    tmp_path: Path, photos, noise_editor, loader_cls, make_route
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    rel = {name: os.path.relpath(path, work) for name, path in photos.items()}
    tasks = work / "routes.jsonl"
    tasks.write_bytes(
        b"\n".join(
            orjson.dumps(r)
            for r in (
                make_route("r1", rel["astronaut"], "make it sepia", ("classic", 1), ("noise", 2)),
                make_route("r2", rel["chelsea"], "make it winter", ("classic", 1), ("noise", 2)),
            )
        )
        + b"\n"
    )
    stage = EditStage(out_dir=work / "edits", seeds=2, loader=loader_cls(noise_editor()))
    out_path, err_path = work / "candidates.jsonl", work / "candidates.errors.jsonl"
    with ManifestWriter(str(out_path)) as out, ErrorManifest(str(err_path)) as err:
        summary = run_stage(stage, read_manifest(str(tasks)), out, err, progress=False)
    # classic is deterministic: one candidate for its 2 seeds; noise gives 2
    assert (summary.done, summary.failed, summary.exit_code) == (5, 1, 1)

    candidates = [line.record for line in read_manifest(str(out_path))]
    assert [(c["parent"], c["slot"]) for c in candidates[:3]] == [("r1", s) for s in "ABC"]
    # r2's failed model leaves gaps: letters are dealt over the planned (model, seed) pairs, so a
    # resumed run that retries the failed model gives everyone the same letters
    r2 = [c["slot"] for c in candidates[3:]]
    assert [c["parent"] for c in candidates[3:]] == ["r2", "r2"] and len(set(r2)) == 2 and set(r2) <= set("ABC")
    for cand in candidates:
        assert Path(cand["output"]).is_file() and Path(cand["image"]).is_file()
    raw = orjson.loads(out_path.read_bytes().splitlines()[0])
    assert not os.path.isabs(raw["output"])  # paths are written relative to the manifest

    (error,) = [line.record for line in read_manifest(str(err_path))]
    assert (error["id"], error["model"], error["error"]["kind"]) == ("r2", "classic", "unsupported_instruction")
