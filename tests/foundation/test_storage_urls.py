"""Images under an fsspec URL (`memory://`, `file://`): the same content-addressed atomic writes and the
same read guards as local paths, so `--out` can be storage every node of a cluster reaches."""

from __future__ import annotations

from pathlib import Path

import fsspec
import numpy as np
import pytest
from PIL import Image

from hilite_cli import image_wire, images, storage
from hilite_cli.images import ImageError


@pytest.fixture
def bucket(memory_root: str) -> str:
    return f"{memory_root}/out"


def _picture(seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (24, 32, 3), dtype=np.uint8))


def test_save_and_load_through_a_memory_url(bucket: str) -> None:
    img = _picture()
    url = images.save_image(img, bucket, subdir="edits")
    assert isinstance(url, str) and url.startswith(f"{bucket}/edits/") and url.endswith(".png")
    assert np.array_equal(np.asarray(images.load_image(url)), np.asarray(img))
    data = images.encode_image(img)
    assert images.file_sha256(url) == images.content_hash(data)
    assert images.sniff_format(url) == "png"
    assert images.image_file_bytes(url) == (data, ".png")
    assert image_wire.sendable_bytes(url) == data
    fs = fsspec.filesystem("memory")
    assert [Path(p).name for p in fs.ls(url.removeprefix("memory://").rsplit("/", 1)[0], detail=False)] == [url.rsplit("/", 1)[1]]
    assert images.save_image(img, bucket, subdir="edits") == url  # same pixels, same name, nothing new written


def test_file_url_lands_on_disk_with_the_local_name(tmp_path: Path) -> None:
    img = _picture(1)
    url = images.save_image(img, f"file://{tmp_path}/out")
    local = images.save_image(img, tmp_path / "plain")
    assert url == f"file://{tmp_path}/out/{local.name}"  # type: ignore[union-attr]
    assert (tmp_path / "out" / local.name).read_bytes() == Path(local).read_bytes()  # type: ignore[arg-type]
    assert [p.name for p in (tmp_path / "out").iterdir()] == [local.name]  # type: ignore[union-attr]  # no temp file left


def test_url_reads_keep_the_guards(bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImageError, match="image file not found: memory://"):
        images.load_image(f"{bucket}/missing.png")
    storage.write_url_atomic(f"{bucket}/notes.png", b"not an image at all")
    with pytest.raises(ImageError, match="not a readable image"):
        images.load_image(f"{bucket}/notes.png")
    url = images.save_image(_picture(), bucket)
    monkeypatch.setattr(images, "max_file_bytes", lambda: 10)
    with pytest.raises(ImageError, match="exceeds the .* image file limit"):
        images.load_image(url)


def test_url_writes_never_leave_the_root(bucket: str) -> None:
    for bad in ("../escape.png", "/abs.png", "a/../../escape.png", "s3://other/x.png"):
        with pytest.raises(ImageError, match="refusing output path"):
            images.safe_join(bucket, bad)
    assert images.safe_join(bucket, "edits/./x.png") == f"{bucket}/edits/x.png"


def test_out_location_knows_local_paths_urls_and_missing_backends() -> None:
    assert storage.out_location("mined") == Path("mined")
    assert storage.out_location("memory://b/dir/") == "memory://b/dir"
    with pytest.raises(ValueError, match="no fsspec filesystem for nosuchproto://"):
        storage.out_location("nosuchproto://b/dir")
