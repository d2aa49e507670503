"""What reaches a judge of an image file: a plain PNG or JPEG as its own checked bytes (no metadata, nothing
after its end), anything else decoded once and re-encoded; the pixels are those `load_image` gives, or
the encoding says they were re-encoded; a damaged or oversized file is an ImageError naming it."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from hilite_cli.image_wire import sendable
from hilite_cli.images import ImageError, load_image
from hilite_cli.stages.judging import ImageFiles


def _picture(seed: int = 0, size: tuple[int, int] = (40, 32)) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (size[1] // 8 + 1, size[0] // 8 + 1, 3), dtype=np.uint8)
    return Image.fromarray(base).resize(size, Image.BILINEAR)  # smooth enough for JPEG to keep it close


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_a_plain_png_goes_as_its_own_bytes(tmp_path: Path) -> None:
    path = tmp_path / "plain.png"
    _picture().save(path)
    sent = sendable(path)
    assert sent.encoding == "original png"
    assert sent.data == path.read_bytes()


def test_png_metadata_and_trailing_bytes_stay_home_and_the_pixels_are_the_same(tmp_path: Path) -> None:
    path = tmp_path / "tagged.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("Location", "SECRET-GPS 48.85N 2.35E")
    _picture(1).save(path, pnginfo=info, dpi=(300, 300))
    path.write_bytes(path.read_bytes() + b"JUNK-AFTER-IEND" * 100)
    sent = sendable(path)
    assert sent.encoding == "original png"
    assert b"SECRET" not in sent.data and b"JUNK" not in sent.data and b"pHYs" not in sent.data
    assert np.array_equal(_pixels(sent.data), np.asarray(load_image(path)))


def test_a_jpeg_goes_without_exif_icc_or_comments_and_keeps_its_pixels(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif[0x010E] = "SECRET description"
    _picture(2).save(path, quality=90, exif=exif, icc_profile=b"SECRET-ICC" * 10, progressive=True)
    path.write_bytes(path.read_bytes() + b"JUNK")
    sent = sendable(path)
    assert sent.encoding == "original jpeg"
    assert b"SECRET" not in sent.data and not sent.data.endswith(b"JUNK") and sent.data.endswith(b"\xff\xd9")
    assert np.array_equal(_pixels(sent.data), np.asarray(load_image(path)))  # no second lossy generation


def test_an_exif_rotated_jpeg_is_sent_upright_and_says_it_was_re_encoded(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    _picture(3, (40, 24)).save(path, quality=95, exif=exif)
    sent = sendable(path)
    assert sent.encoding == "re-encoded jpeg q95"
    assert _pixels(sent.data).shape == np.asarray(load_image(path)).shape == (40, 24, 3)


@pytest.mark.parametrize("mode", ["RGBA", "P", "I;16", "BMP"])
def test_what_is_not_plain_rgb_is_decoded_and_re_encoded_losslessly(tmp_path: Path, mode: str) -> None:
    path = tmp_path / ("odd.bmp" if mode == "BMP" else "odd.png")
    image = _picture(4)
    if mode == "I;16":
        image = Image.fromarray(np.asarray(image.convert("L")).astype(np.uint16) * 257)
    elif mode != "BMP":
        image = image.convert(mode)
    image.save(path)
    sent = sendable(path)
    assert sent.encoding == "re-encoded png"
    assert np.array_equal(_pixels(sent.data), np.asarray(load_image(path)))


@pytest.mark.parametrize("damage", ["cut", "flipped byte"])
def test_a_damaged_png_is_refused_naming_the_file(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "damaged.png"
    _picture(5, (64, 64)).save(path)
    data = bytearray(path.read_bytes())
    if damage == "cut":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ImageError, match="damaged.png"):
        sendable(path)


def test_a_cut_jpeg_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.jpg"
    _picture(6, (64, 64)).save(path, quality=90)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(ImageError, match="cut.jpg"):
        sendable(path)


def test_a_pixel_bomb_header_is_refused_without_decoding(tmp_path: Path) -> None:
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    path = tmp_path / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk + b"\x00\x00\x00\x00IEND\xaeB`\x82")
    with pytest.raises(ImageError, match="decompression bomb guard"):
        sendable(path)


def test_each_path_is_prepared_once_on_the_pool(tmp_path: Path) -> None:
    path = tmp_path / "shared.png"
    _picture(7).save(path)
    files = ImageFiles()
    try:
        first = files.prepare(str(path))
        assert files.prepare(str(path)) is first  # a source shared by many candidates is read once
        assert files.data(str(path)) == path.read_bytes()
    finally:
        files.close()
