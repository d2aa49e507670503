"""`hilite models --check`: packages, weights (HF cache or --weights), device/dtype, memory; and `edit` using only what runs."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from support.cli import hilite
from support.photos import save_photo


def _fake_cache(hf_home: Path, repo: str, *files: str) -> None:
    """The HF hub cache layout (models--org--name/refs/main -> snapshots/<rev>/...) holding `files`."""
    folder = hf_home / "hub" / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    (folder / "refs" / "main").write_text("0" * 40)
    for name in files:
        path = folder / "snapshots" / ("0" * 40) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")


def _check(tmp_path: Path, *args: str, pythonpath: str | None = None) -> dict[str, dict]:
    env = {"HF_HOME": str(tmp_path / "hf")}
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join([pythonpath, os.environ.get("PYTHONPATH", "")])
    res = hilite("models", "--check", "--json", "--device", "cpu", *args, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    return {row["name"]: row for row in map(orjson.loads, res.stdout.splitlines())}


def test_check_without_weights_or_optional_packages(tmp_path: Path) -> None:
    rows = _check(tmp_path)
    ip2p = rows["instruct-pix2pix"]
    assert not ip2p["runnable"] and ip2p["weights"] == "missing"
    assert "hf download timbrooks/instruct-pix2pix" in ip2p["reasons"][0] and "--weights instruct-pix2pix=DIR" in ip2p["reasons"][0]
    assert ip2p["device"] == "cpu" and ip2p["dtype"] == "float32" and ip2p["weights_gib"] == 4.0
    assert rows["classic"]["runnable"] and rows["classic"]["weights"] == "none needed"
    qwen = rows["qwen-image-edit"]
    if not qwen["packages"]["torchvision"]:
        assert not qwen["runnable"] and "pip install 'hilite_cli[qwen]'" in qwen["reasons"][0]


def test_check_with_cached_or_local_weights_and_the_optional_package(tmp_path: Path) -> None:
    for repo in ("timbrooks/instruct-pix2pix", "stabilityai/stable-diffusion-xl-base-1.0", "Qwen/Qwen-Image-Edit"):
        _fake_cache(tmp_path / "hf", repo, "model_index.json")
    local = tmp_path / "pbe"
    (local / "unet").mkdir(parents=True)
    fake = tmp_path / "site"  # an importable torchvision: the check looks for the package, nothing more
    (fake / "torchvision").mkdir(parents=True)
    (fake / "torchvision" / "__init__.py").write_text("")
    rows = _check(tmp_path, "--weights", f"paint-by-example={local}", "--dtype", "bf16", pythonpath=str(fake))
    assert rows["instruct-pix2pix"]["runnable"] and rows["instruct-pix2pix"]["weights"] == "HF cache"
    assert rows["instruct-pix2pix"]["dtype"] == "bfloat16" and rows["instruct-pix2pix"]["weights_gib"] == 2.0
    assert rows["paint-by-example"]["runnable"] and rows["paint-by-example"]["weights"] == f"--weights {local}"
    # SDXL base is cached, but ControlNet's own repo is not: the check names only what is missing
    [reason] = rows["controlnet-sdxl-canny"]["reasons"]
    assert "diffusers/controlnet-canny-sdxl-1.0" in reason and "stable-diffusion-xl-base" not in reason
    qwen = rows["qwen-image-edit"]
    assert qwen["packages"]["torchvision"] and not any("torchvision" in r for r in qwen["reasons"])


def test_edit_without_models_runs_only_what_can_run_and_names_the_rest_once(tmp_path: Path) -> None:
    img = save_photo(tmp_path, "coffee", 32)
    routed = [{"id": f"t{i}", "image": img.name, "instruction": "make it black and white",
               "models": [{"name": "instruct-pix2pix", "rank": 1}, {"name": "classic", "rank": 2}]} for i in range(3)]
    (tmp_path / "r.jsonl").write_bytes(b"\n".join(orjson.dumps(r) for r in routed) + b"\n")
    res = hilite("edit", "r.jsonl", "--out", "e", "-o", "c.jsonl", "--no-progress", "--device", "cpu",
                 env={"HF_HOME": str(tmp_path / "hf")}, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    cands = [orjson.loads(x) for x in (tmp_path / "c.jsonl").read_bytes().splitlines()]
    assert [c["model"] for c in cands] == ["classic"] * 3
    assert res.stderr.decode().count("instruct-pix2pix") == 1


def test_the_tables_show_registry_text_verbatim(tmp_path: Path) -> None:
    """rich read `[qwen]` as markup and printed `pip install 'hilite_cli'` (--json had it right), and
    "FLUX.2 [klein]" as "FLUX.2 ": the tables print registry text as it is."""
    res = hilite("models", "--check", "--device", "cpu", env={"HF_HOME": str(tmp_path / "hf")}, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    rows = _check(tmp_path)
    if not rows["qwen-image-edit"]["packages"]["torchvision"]:
        assert b"[qwen]'" in res.stdout  # the table folds long cells, so the words may break before it
    listing = hilite("models", env={"HF_HOME": str(tmp_path / "hf")}, cwd=tmp_path)
    assert listing.returncode == 0 and b"[klein]" in listing.stdout
