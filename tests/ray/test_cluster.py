"""`--executor ray` on a real two-node cluster gives what the local executor gives: the same ids,
image hashes and stats, for mining and for the manifest stages; a killed worker and a model that does
not load cost nothing but retries and error records."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.photos import save_photo

MINE_STATS = ("sources", "jobs", "survival", "error_records", "notes")


def _read(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()] if path.is_file() else []


def _hilite(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    return subprocess.run([sys.executable, "-m", "hilite_cli", *args], cwd=cwd, capture_output=True, timeout=timeout,
                          env={**clean, "HF_HUB_OFFLINE": "1", "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0", **(env or {})})


def _images(records: list[dict[str, Any]], folder: Path, fields: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """(id, content hash of every image field) per record, sorted: equal across executors."""
    def sha(value: str) -> str:
        path = Path(value) if Path(value).is_absolute() else folder / value
        return hashlib.sha256(path.read_bytes()).hexdigest()

    return sorted((r["id"], *(sha(r[f]) for f in fields)) for r in records)


def _mine(folder: Path, specs: Path, weights: dict[str, Path], *extra: str, env: dict[str, str] | None = None,
          **kwargs: Any) -> tuple[subprocess.CompletedProcess[bytes], list[dict[str, Any]], dict[str, Any]]:
    folder.mkdir(parents=True, exist_ok=True)
    args = ["mine", str(specs), "-o", str(folder / "pool.jsonl"), "--out", str(folder / "mined"), "--stats",
            str(folder / "stats.json"), "--preset", "small", "--no-progress", "--keep-rejected"]
    args += [a for name, path in weights.items() for a in ("--weights", f"{name}={path}")]
    res = _hilite(*args, *extra, cwd=folder, env=env, **kwargs)
    stats = orjson.loads((folder / "stats.json").read_bytes()) if (folder / "stats.json").is_file() else {}
    return res, _read(folder / "pool.jsonl"), stats


def _same_mining(local: tuple[Any, ...], ray: tuple[Any, ...], folders: tuple[Path, Path]) -> None:
    (lres, lpool, lstats), (rres, rpool, rstats) = local, ray
    assert lres.returncode == 0, lres.stderr.decode()[-3000:]
    assert rres.returncode == 0, rres.stderr.decode()[-3000:]
    assert lpool and _images(lpool, folders[0], ("image", "output")) == _images(rpool, folders[1], ("image", "output"))
    assert {k: lstats[k] for k in MINE_STATS} == {k: rstats[k] for k in MINE_STATS}


def _nodes(stats: dict[str, Any]) -> set[str]:
    return {node for per_op in stats["ray"]["nodes"].values() for node in per_op if node}


def test_mine_t2i_and_tiny_editor_same_as_local_on_two_nodes(cluster, tiny_weights, tmp_path: Path) -> None:
    specs = tmp_path / "specs.jsonl"
    specs.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in [
        {"t2i_prompt": "a cat on a sofa", "edits": ["make it winter", "add snow"]},
        {"t2i_prompt": "a dog", "edits": ["make it red"]},
    ]))
    local = _mine(tmp_path / "local", specs, tiny_weights)
    ray = _mine(tmp_path / "ray", specs, tiny_weights, "--executor", "ray", env=cluster.env)
    _same_mining(local, ray, (tmp_path / "local", tmp_path / "ray"))
    assert local[2]["jobs"]["sampled"] == 2 * 3 * 2
    assert len(_nodes(ray[2])) == 2, ray[2]["ray"]  # both nodes did work


def test_mine_classic_killed_driver_resumes_to_the_local_pool(cluster, tmp_path: Path) -> None:
    """SIGKILL the Ray driver once jobs are being recorded; --resume on Ray gives the local run's pool and table."""
    photos = [save_photo(tmp_path, name, 32) for name in ("astronaut", "coffee", "chelsea", "rocket")]
    specs = tmp_path / "specs.jsonl"
    specs.write_bytes(b"".join(orjson.dumps({"id": f"p{i}", "image": str(p), "edits": ["make it black and white", "warmer"]}) + b"\n"
                               for i, p in enumerate(photos)))
    args = ("--editor", "classic", "--attempts", "3", "--window", "2")
    local = _mine(tmp_path / "local", specs, {}, *args)
    folder = tmp_path / "ray"
    folder.mkdir()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    driver = subprocess.Popen(
        [sys.executable, "-m", "hilite_cli", "mine", str(specs), "-o", str(folder / "pool.jsonl"), "--out", str(folder / "mined"),
         "--preset", "small", "--no-progress", "--keep-rejected", *args, "--executor", "ray", "--workers", "2"],
        cwd=folder, env={**clean, "HF_HUB_OFFLINE": "1", **cluster.env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    state = folder / "pool.jsonl.state.jsonl"
    deadline = time.monotonic() + 180
    while driver.poll() is None and time.monotonic() < deadline:
        if sum(b'"type":"job"' in line for line in (state.read_bytes().splitlines() if state.is_file() else [])) >= 2:
            driver.kill()
            break
        time.sleep(0.02)
    driver.wait(60)
    jobs_before = sum(e["type"] == "job" for e in _read(state))
    resumed = _mine(folder, specs, {}, *args, "--executor", "ray", "--workers", "2", "--resume", env=cluster.env)
    _same_mining(local, resumed, (tmp_path / "local", folder))
    assert jobs_before < local[2]["jobs"]["sampled"] == 4 * 2  # classic: one attempt per pair; the kill did cut the run short
    assert len({e["id"] for e in _read(state) if e["type"] == "job"}) == len([e for e in _read(state) if e["type"] == "job"])


def test_mine_editor_that_cannot_load_gives_error_records_not_a_hang(cluster, tmp_path: Path) -> None:
    specs = tmp_path / "specs.jsonl"
    specs.write_bytes(orjson.dumps({"image": str(save_photo(tmp_path, "coffee", 32)), "edits": ["warmer"]}) + b"\n")
    (tmp_path / "empty").mkdir()  # a folder with no pipeline in it: the editor fails to load on its actor
    res, pool, stats = _mine(tmp_path / "run", specs, {"instruct-pix2pix": tmp_path / "empty"},
                             "--executor", "ray", env=cluster.env, timeout=240)
    assert res.returncode == 1, res.stderr.decode()[-3000:]
    assert pool == [] and sum(stats["jobs"]["failed"].values()) == stats["jobs"]["queue"] == 2
    errors = _read(tmp_path / "run" / "pool.jsonl.errors.jsonl")
    assert len(errors) == 2 and all(e["error"]["stage"] == "mine.jobs" for e in errors)


def _tasks(folder: Path, n: int) -> Path:
    names = ("astronaut", "coffee", "chelsea", "rocket")
    lines = [orjson.dumps({"id": f"t{i}", "image": save_photo(folder, names[i % 4], 32).name,
                           "instruction": ("make it black and white", "sepia")[(i // 4) % 2]}) for i in range(n)]
    (folder / "tasks.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return folder / "tasks.jsonl"


def _counts(summary: str) -> dict[str, int]:
    """`validate: 4 done, 0 failed, … (12 inputs, 0.2s)` -> {"done": 4, "failed": 0, …}."""
    body = summary.split(":", 1)[1].rsplit("(", 1)[0]
    return {key: int(n) for n, key in (part.strip().split(" ", 1) for part in body.split(","))}


def _with_inverses(best: Path, into: Path) -> None:
    """The selected forward triplets plus an inverse of each, so bootstrap has pairs to compose."""
    forwards = _read(best)
    inverses = [{"id": f"inv-{f['id']}", "source": f["edited"], "instruction": f"undo: {f['instruction']}", "edited": f["source"],
                 "kind": "inverse", "parents": [f["id"]]} for f in forwards]
    into.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in forwards + inverses))


def test_edit_validate_best_and_bootstrap_same_as_local(cluster, tmp_path: Path) -> None:
    _tasks(tmp_path, 8)
    ray = ("--executor", "ray", "--workers", "2")
    out: dict[str, dict[str, Any]] = {}
    for name, flags, env in (("local", (), None), ("ray", ray, cluster.env)):
        edit = _hilite("edit", "tasks.jsonl", "--models", "classic", "--seeds", "3", "--no-shuffle", "--out", f"e-{name}",
                       "-o", f"c-{name}.jsonl", "--no-progress", *flags, cwd=tmp_path, env=env)
        assert edit.returncode == 0, edit.stderr.decode()[-3000:]
        best = _hilite("validate", f"c-{name}.jsonl", "--judge", "offline", "--select", "best", "-o", f"b-{name}.jsonl",
                       "--no-progress", *flags, cwd=tmp_path, env=env)
        assert best.returncode == 0, best.stderr.decode()[-3000:]
        _with_inverses(tmp_path / f"b-{name}.jsonl", tmp_path / f"t-{name}.jsonl")
        boot = _hilite("bootstrap", f"t-{name}.jsonl", "-o", f"s-{name}.jsonl", "--no-progress", *flags, cwd=tmp_path, env=env)
        assert boot.returncode == 0, boot.stderr.decode()[-3000:]
        out[name] = {"edit": _read(tmp_path / f"c-{name}.jsonl"), "best": _read(tmp_path / f"b-{name}.jsonl"),
                     "boot": _read(tmp_path / f"s-{name}.jsonl"), "summary": best.stderr.decode().strip().splitlines()[-1]}
    local, remote = out["local"], out["ray"]
    assert [r["id"] for r in local["edit"]] == [r["id"] for r in remote["edit"]] and local["edit"]
    assert _images(local["edit"], tmp_path, ("output",)) == _images(remote["edit"], tmp_path, ("output",))
    assert sorted(r["id"] for r in local["best"]) == sorted(r["id"] for r in remote["best"]) and len(local["best"]) >= 1
    assert _counts(local["summary"]) == _counts(remote["summary"])  # done/failed/groups/selected counts
    assert sorted(r["id"] for r in local["boot"]) == sorted(r["id"] for r in remote["boot"])
    assert any(r["kind"] == "bootstrap" for r in local["boot"])


def _actor_pids(name: str) -> list[int]:
    """PIDs of Ray worker processes running an actor of class `name` (their title names it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if cmdline.startswith(b"ray::") and name.encode() in cmdline:
                pids.append(int(entry.name))
    return pids


def _local_then_ray_edit(cluster, tmp_path: Path, *workers: str) -> subprocess.Popen[bytes]:
    """The same `edit` run locally to local.jsonl (the reference), then started on the cluster to ray.jsonl."""
    local = _hilite("edit", "tasks.jsonl", "--models", "classic", "--seeds", "2", "--no-shuffle", "--out", "e",
                    "-o", "local.jsonl", "--no-progress", cwd=tmp_path)
    assert local.returncode == 0, local.stderr.decode()[-3000:]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    return subprocess.Popen(
        [sys.executable, "-m", "hilite_cli", "edit", "tasks.jsonl", "--models", "classic", "--seeds", "2", "--no-shuffle",
         "--out", "e-ray", "-o", "ray.jsonl", "--no-progress", "--executor", "ray", *workers],
        cwd=tmp_path, env={**clean, "HF_HUB_OFFLINE": "1", **cluster.env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def test_killed_worker_loses_and_duplicates_nothing(cluster, tmp_path: Path) -> None:
    _tasks(tmp_path, 8)
    proc = _local_then_ray_edit(cluster, tmp_path, "--workers", "2")
    killed: list[int] = []
    deadline = time.monotonic() + 120
    while not killed and proc.poll() is None and time.monotonic() < deadline:
        pids = _actor_pids("StageActor")
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])
        time.sleep(0.05)
    _, err = proc.communicate(timeout=240)
    assert killed, "no StageActor process was seen"
    assert proc.returncode == 0, err.decode()[-3000:]
    got, want = _read(tmp_path / "ray.jsonl"), _read(tmp_path / "local.jsonl")
    assert [r["id"] for r in got] == [r["id"] for r in want]  # none lost, none twice, in order
    assert all(r["output"].startswith("e-ray/") for r in got)  # a relative --out means the driver's folder on workers
    assert _images(got, tmp_path, ("output",)) == _images(want, tmp_path, ("output",))


def test_node_that_leaves_mid_run_the_run_finishes_on_the_rest(cluster, tmp_path: Path) -> None:
    """Last in this module: it takes the worker node away (SIGKILL to its process group)."""
    _tasks(tmp_path, 12)
    proc = _local_then_ray_edit(cluster, tmp_path, "--workers", "1", "--max-workers", "2")
    worker = cluster.nodes[1]
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and not _actor_pids("StageActor"):
        time.sleep(0.05)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(30)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()[-3000:]
    got, want = _read(tmp_path / "ray.jsonl"), _read(tmp_path / "local.jsonl")
    assert [r["id"] for r in got] == [r["id"] for r in want]
    assert _images(got, tmp_path, ("output",)) == _images(want, tmp_path, ("output",))


def test_mine_to_a_file_url_same_as_local(cluster, tmp_path: Path) -> None:
    """`--out file:///…` on Ray: workers write through fsspec, the pool keeps the URLs, the images are the local run's."""
    from hilite_cli.storage import read_bytes

    photos = [save_photo(tmp_path, name, 32) for name in ("astronaut", "coffee")]
    specs = tmp_path / "specs.jsonl"
    specs.write_bytes(b"".join(orjson.dumps({"id": f"p{i}", "image": str(p), "edits": ["make it black and white", "warmer"]}) + b"\n"
                               for i, p in enumerate(photos)))
    args = ("--editor", "classic", "--attempts", "2")
    local = _mine(tmp_path / "local", specs, {}, *args)
    url = f"file://{tmp_path}/shared/mined"
    ray = _mine(tmp_path / "ray", specs, {}, *args, "--out", url, "--executor", "ray", "--workers", "2", env=cluster.env)
    assert ray[0].returncode == 0, ray[0].stderr.decode()[-3000:]
    assert ray[1] and all(r["output"].startswith(f"{url}/edits/") for r in ray[1])
    assert not (tmp_path / "ray" / "mined").exists()
    hashed = sorted((r["id"], hashlib.sha256(read_bytes(r["output"])).hexdigest()) for r in ray[1])
    assert hashed == [(i, out) for i, _, out in _images(local[1], tmp_path / "local", ("image", "output"))]
    assert {k: local[2][k] for k in MINE_STATS} == {k: ray[2][k] for k in MINE_STATS}


def test_score_dataset_same_as_local_on_the_cluster(cluster, tmp_path: Path) -> None:
    """Batches scored on the cluster, sums per dataset made by the driver: the local run's tables and records."""
    names = ("astronaut", "coffee", "chelsea", "rocket")
    photos = [save_photo(tmp_path, name, 32) for name in names]
    for k, name in enumerate(("a", "b")):
        (tmp_path / f"{name}.jsonl").write_bytes(b"".join(
            orjson.dumps({"id": f"{name}{i}", "source": str(photos[i]), "edited": str(photos[(i + k + 1) % 4]),
                          "instruction": "make it different"}) + b"\n" for i in range(4)))
    common = ("score-dataset", "a.jsonl", "b.jsonl", "--metrics", "ssim,lowlevel", "--no-progress")
    local = _hilite(*common, "--json", "local.json", "-o", "local.jsonl", cwd=tmp_path)
    ray = _hilite(*common, "--json", "ray.json", "-o", "ray.jsonl", "--executor", "ray", "--workers", "2",
                  cwd=tmp_path, env=cluster.env)
    assert local.returncode == 0, local.stderr.decode()[-3000:]
    assert ray.returncode == 0, ray.stderr.decode()[-3000:]
    assert orjson.loads((tmp_path / "ray.json").read_bytes())["datasets"] == orjson.loads((tmp_path / "local.json").read_bytes())["datasets"]
    assert _read(tmp_path / "ray.jsonl") == _read(tmp_path / "local.jsonl")
    assert b"score-dataset: ray ran" in ray.stderr
    judged = _hilite(*common, "--metrics", "judge", "--judge", "offline", "--executor", "ray", cwd=tmp_path, env=cluster.env)
    assert judged.returncode == 2 and b"runs on the local executor" in judged.stderr


@pytest.mark.parametrize("select", [(), ("--select", "best")], ids=["map_batches", "map_groups"])
def test_validate_on_ray_prints_the_local_cost_line(select: tuple[str, ...], tmp_path: Path) -> None:
    """On a local Ray instance (its workers inherit the driver's API key; a cluster's nodes need the key in
    their own environment), the judge runs in the actors and their usage comes back with each batch. 6 candidates at 1000 in +
    200 out tokens on gemini-2.5-flash ($0.30 / $2.50 per 1M): 6 x (1000 x 0.30 + 200 x 2.50) µ$ = 6 x 800 µ$
    = $0.0048, the same line as the local run's."""
    from support.loopback import Loopback, Text
    from support.scripted_judge import candidate, scores, write_block_edit, write_source

    source = write_source(tmp_path / "src.png", 3)
    records = [candidate(f"c{i}", source, f"paint it {i}", write_block_edit(source, tmp_path / f"e{i}.png", (i, 9, 9)))
               for i in range(6)]
    (tmp_path / "cands.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    expected = "validate: gemini:gemini-2.5-flash: 6 calls, 0 cached, 6000 in / 1200 out tokens, est. $0.0048"
    with Loopback(answer=lambda req: Text(scores(4.8, 4.9), tokens=(1000, 200))) as server:
        lines = {}
        for name, flags in (("local", ()), ("ray", ("--executor", "ray", "--workers", "2"))):
            res = _hilite("validate", "cands.jsonl", "--judge", "gemini:gemini-2.5-flash", "--base-url", server.url,
                          "--checks", "", "--batch-size", "2", "--no-cache", "--no-progress", "-o", f"{name}.jsonl",
                          *select, *flags, cwd=tmp_path, env={"GEMINI_API_KEY": "ray-test-key"})
            assert res.returncode == 0, res.stderr.decode()[-3000:]
            lines[name] = [x for x in res.stderr.decode().splitlines() if x.startswith("validate: gemini")]
        assert len(server.requests) == 12  # each run asked each candidate once
    assert lines["local"] == lines["ray"] == [expected]
    assert sorted(r["id"] for r in _read(tmp_path / "ray.jsonl")) == sorted(r["id"] for r in _read(tmp_path / "local.jsonl"))


def test_mine_on_ray_counts_the_prefilter_calls_of_its_actors(tmp_path: Path) -> None:
    """The pre-filter asks from CPU actors (a local Ray instance); their usage joins the driver's meter.
    2 photos x 2 edits, classic (one job each), every job passes A.2 (1000 in + 200 out) and A.3/A.4
    (1000 in + 1 out each) on gpt-4.1 ($2 / $8 per 1M): 4 x 3 calls, 12000 in / 808 out tokens,
    12000 x 2 + 808 x 8 µ$ = 24000 + 6464 µ$ = $0.030464: the local run's figures."""
    from support.loopback import Loopback, Received, Text

    def answer(request: Received) -> Text:
        if "InstructionAdherence" in request.text():
            return Text('{"InstructionAdherence": 4.9, "ImageAesthetic": 4.9}', tokens=(1000, 200))
        return Text("yes", tokens=(1000, 1))

    (tmp_path / "photos").mkdir()
    for name in ("astronaut", "coffee"):
        save_photo(tmp_path / "photos", name, 48)
    (tmp_path / "e.txt").write_text("make it sepia\nmake it brighter\n")
    usage = {}
    with Loopback(answer=answer) as server:
        for name, flags in (("local", ()), ("ray", ("--executor", "ray", "--workers", "1"))):
            res = _hilite("mine", "--images", "photos", "--edits", "e.txt", "--editor", "classic", "--preset", "small",
                          "--no-gate", "--prefilter", "openai:gpt-4.1", "--base-url", server.openai_url, "--no-cache",
                          "--no-progress", "-o", f"{name}.jsonl", "--stats", f"{name}.json", "--out", f"m-{name}", *flags,
                          cwd=tmp_path, env={"OPENAI_API_KEY": "ray-test-key"})
            assert res.returncode == 0, res.stderr.decode()[-3000:]
            usage[name] = orjson.loads((tmp_path / f"{name}.json").read_bytes())["provider_usage"]
            assert "mine: openai:gpt-4.1: 12 calls, 0 cached, 12000 in / 808 out tokens, est. $0.0305" in res.stderr.decode()
    assert usage["ray"] == usage["local"]
    assert usage["ray"][0]["cost_usd"] == pytest.approx(0.030464)
