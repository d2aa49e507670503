"""ImgEdit-Bench by hub id: `Benchmark.tar` resolved from a real (fake-content) HF hub cache with
HF_HUB_OFFLINE=1 through huggingface_hub itself, unpacked safely once, its parts found by search."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import orjson
import pytest
from eval.conftest import Bench
from support.loopback import Loopback, Text

REPO = "sysuyy/ImgEdit"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
REPLY = "Prompt Compliance: 4\nVisual Seamlessness: 3\nPhysical & Detail Fidelity: 5"


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _hub_cache(root: Path, archive: bytes) -> Path:
    """The HF hub cache layout: refs/main -> commit, snapshots/<commit>/Benchmark.tar -> blobs/<sha256>."""
    repo = root / f"datasets--{REPO.replace('/', '--')}"
    blob = repo / "blobs" / hashlib.sha256(archive).hexdigest()
    blob.parent.mkdir(parents=True)
    blob.write_bytes(archive)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / "Benchmark.tar").symlink_to(Path("..", "..", "blobs", blob.name))
    return blob


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from huggingface_hub import constants

    cache = tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key-not-secret")
    return cache


def _archive_of(bench: Bench, with_metadata: bool) -> tuple[bytes, bytes]:
    """ImgEdit's images under an undocumented prefix, plus (optionally) basic_edit.json elsewhere."""
    meta = (bench.data / "basic_edit.json").read_bytes()
    members = {f"Benchmark/singleturn/{p.relative_to(bench.data).as_posix()}": p.read_bytes()
               for p in sorted(bench.data.rglob("*.png"))}
    if with_metadata:
        members["Benchmark/Basic/basic_edit.json"] = meta
    return _tar(members), meta


def _eval(*args: str):
    from typer.testing import CliRunner

    from hilite_cli.cli.app import app

    return CliRunner().invoke(app, ["eval", "imgedit", *args])


def _run(bench: Bench, tmp_path: Path, *extra: str):
    out = tmp_path / "items.jsonl"
    with Loopback(answer=lambda request: Text(REPLY)) as server:
        result = _eval("--data", REPO, "--edited", str(bench.edited), "--prompts", str(bench.prompts),
                       "--judge", "openai:gpt-4.1", "--base-url", server.openai_url, "-o", str(out),
                       "--json", str(tmp_path / "summary.json"), *extra)
    return result, [orjson.loads(x) for x in out.read_bytes().splitlines()] if out.is_file() else []


def test_imgedit_loads_by_hub_id_offline_and_unpacks_once(imgedit: Bench, hub: Path, tmp_path: Path) -> None:
    archive, _ = _archive_of(imgedit, with_metadata=True)
    blob = _hub_cache(hub, archive)
    result, records = _run(imgedit, tmp_path)
    assert result.exit_code == 1, result.output  # k4 has no edited image: failed, the rest judged
    assert sorted(r["key"] for r in records) == ["k1", "k2", "k3"]
    unpacked = (tmp_path / records[0]["source"]).resolve()  # written relative to the manifest
    from hilite_cli.config import cache_dir

    root = cache_dir().resolve() / "benchmarks" / "sysuyy--ImgEdit" / blob.name
    assert unpacked.is_relative_to(root / "Benchmark" / "singleturn") and (root / ".hilite-unpacked").is_file()
    assert records[0]["scores"]["overall"] == pytest.approx(4.0)
    summary = orjson.loads((tmp_path / "summary.json").read_bytes())
    assert summary["settings"]["data"] == REPO and summary["items"] == 4
    (root / "Benchmark" / "marker-of-this-unpack").write_text("kept")
    again, _ = _run(imgedit, tmp_path / "again")
    assert again.exit_code == 1 and (root / "Benchmark" / "marker-of-this-unpack").is_file()  # not unpacked again


def test_archive_without_metadata_needs_metadata_and_a_half_unpack_is_redone(imgedit: Bench, hub: Path,
                                                                             tmp_path: Path) -> None:
    archive, meta = _archive_of(imgedit, with_metadata=False)
    blob = _hub_cache(hub, archive)
    result, _ = _run(imgedit, tmp_path)
    assert result.exit_code == 2 and "has no basic_edit.json" in result.output and "--metadata FILE" in result.output
    assert "Traceback" not in result.output
    from hilite_cli.config import cache_dir

    root = cache_dir() / "benchmarks" / "sysuyy--ImgEdit" / blob.name
    (root / ".hilite-unpacked").unlink()  # as if the unpack had been killed before its marker
    (root / "Benchmark" / "singleturn" / "animal" / "a.png").write_bytes(b"torn")
    user_meta = tmp_path / "basic_edit.json"
    user_meta.write_bytes(meta)
    result, records = _run(imgedit, tmp_path / "second", "--metadata", str(user_meta))
    assert result.exit_code == 1, result.output
    assert sorted(r["key"] for r in records) == ["k1", "k2", "k3"]  # a.png (k1) was unpacked again, whole


def test_not_cached_offline_is_one_line_exit_2(imgedit: Bench, hub: Path, tmp_path: Path) -> None:
    result, _ = _run(imgedit, tmp_path)
    assert result.exit_code == 2, result.output
    assert "sysuyy/ImgEdit: cannot get Benchmark.tar" in result.output and "HF_HUB_OFFLINE" in result.output
    assert "Traceback" not in result.output


def test_an_archive_member_outside_the_folder_is_refused(imgedit: Bench, hub: Path, tmp_path: Path) -> None:
    _hub_cache(hub, _tar({"../escaped.txt": b"x", "Benchmark/Basic/basic_edit.json": b"{}"}))
    result, _ = _run(imgedit, tmp_path)
    assert result.exit_code == 2 and "cannot unpack it safely" in result.output
    from hilite_cli.config import cache_dir

    assert not list(cache_dir().rglob("escaped.txt")) and not (cache_dir().parent / "escaped.txt").exists()


def test_imgedit_without_prompts_says_they_are_not_bundled(imgedit: Bench, tmp_path: Path) -> None:
    result = _eval("--data", str(imgedit.data), "--edited", str(imgedit.edited), "--judge", "openai")
    assert result.exit_code == 2 and "publishes no licence" in " ".join(result.output.split())


def test_runs_unpacking_the_same_archive_at_once_take_turns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four runs unpacking one archive at the same moment (threads: each takes the file lock) all get
    the same whole folder, and no `.partial` folder is left behind."""
    from concurrent.futures import ThreadPoolExecutor

    from hilite_cli.stages.eval import hub_archive

    monkeypatch.setenv("HILITE_CACHE_DIR", str(tmp_path / "cache"))
    members = {f"Benchmark/singleturn/animal/{i:04d}.jpg": bytes([i % 256]) * 4096 for i in range(200)}
    archive = tmp_path / "Benchmark.tar"
    archive.write_bytes(_tar(members))
    with ThreadPoolExecutor(max_workers=4) as pool:
        roots = list(pool.map(lambda _: hub_archive.unpack(archive, REPO), range(4)))
    assert len(set(roots)) == 1 and (roots[0] / hub_archive.MARKER).is_file()
    assert all((roots[0] / name).read_bytes() == data for name, data in members.items())
    assert not list(roots[0].parent.glob("*.partial"))
