"""Exports write only the image itself: bytes appended after a PNG's IEND or a JPEG's EOI never land in a
dataset, and a file over the configured size is refused before it is read."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from hilite_cli.exports import write_dataset
from hilite_cli.images import ImageError, image_file_bytes, load_image

JUNK = b"JUNK-AFTER-THE-IMAGE" * 512


def _pad(path: str) -> bytes:
    """Append junk to an image file in place; returns the clean bytes."""
    clean = Path(path).read_bytes()
    Path(path).write_bytes(clean + JUNK)
    return clean


def _files(root: Path) -> list[bytes]:
    return [p.read_bytes() for p in root.rglob("*") if p.is_file() and p.suffix in (".png", ".jpg", ".webp")]


@pytest.mark.parametrize("fmt", ["ip2p", "trl", "nhr", "diffusion-dpo", "webdataset"])
def test_junk_after_the_image_never_reaches_an_export(fmt: str, triplets: list[dict[str, Any]],
                                                      scored: list[dict[str, Any]], tmp_path: Path) -> None:
    records = scored if fmt == "diffusion-dpo" else triplets
    clean = {}
    for rec in records:
        for key in ("source", "edited", "image", "output"):
            if key in rec and rec[key] not in clean:
                clean[rec[key]] = _pad(rec[key])
    summary = write_dataset(records, tmp_path / "out", fmt)
    assert summary.written and not summary.errors
    root = tmp_path / "out"
    blobs = _files(root)
    for shard in root.rglob("*.tar"):
        with tarfile.open(shard) as tar:
            blobs += [tar.extractfile(m).read() for m in tar.getmembers() if m.name.endswith((".png", ".jpg"))]
    for parquet in root.rglob("*.parquet"):
        import pyarrow.parquet as pq

        table = pq.read_table(parquet).to_pylist()
        blobs += [row[col] for row in table for col in ("jpg_0", "jpg_1", "source")]
    assert blobs
    for blob in blobs:
        assert b"JUNK-AFTER" not in blob
        Image.open(io.BytesIO(blob)).load()
    if fmt in ("ip2p", "trl"):  # folder exports keep the file's own encoding, byte for byte
        assert set(blobs) <= set(clean.values())
    if fmt == "diffusion-dpo":  # files byte for byte; the parquet's jpg_* columns are JPEG, as named
        assert set(_files(root)) <= set(clean.values())
        assert all(b.startswith(b"\xff\xd8\xff") for b in blobs if b not in set(_files(root)))


def test_a_jpeg_is_cut_at_its_eoi_past_markers_inside_segments_and_scans(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010E] = "a description"
    path = tmp_path / "p.jpg"
    img = Image.effect_noise((64, 48), 60).convert("RGB")
    img.save(path, "JPEG", progressive=True, exif=exif.tobytes(), quality=90, restart_marker_blocks=1,
             comment=b"an EOI \xff\xd9 inside a comment segment")
    clean = path.read_bytes()
    path.write_bytes(clean + b"\xff\xd9" + JUNK)
    data, suffix = image_file_bytes(path)
    assert data == clean and suffix == ".jpg"


def test_a_png_named_jpg_is_exported_as_what_it_is(tmp_path: Path) -> None:
    path = tmp_path / "really-a.jpg"
    Image.new("RGB", (4, 4), (1, 2, 3)).save(path, "PNG")
    data, suffix = image_file_bytes(path)
    assert suffix == ".png" and data == path.read_bytes()


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    Image.new("RGB", (4, 4)).save(path)
    with path.open("r+b") as fh:  # sparse: 1 GB on paper, nothing on disk
        fh.truncate(1 << 30)
    with pytest.raises(ImageError, match=r"1024\.0 MB exceeds the 256 MB image file limit.*max_file_mb"):
        load_image(path)
    with pytest.raises(ImageError, match="image file limit"):
        image_file_bytes(path)
