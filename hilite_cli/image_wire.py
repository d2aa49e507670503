"""What of an image file may leave the process for a judge, and in which encoding.

A judge decodes the image itself, so re-encoding what it can already read only costs CPU (PNG at
level 6 was 80 % of `validate`'s time) and, for a JPEG, adds a second lossy generation. So an
8-bit RGB or grey PNG, or an RGB or grey JPEG, goes as its original bytes once its container has
been checked, without decoding a pixel:

- the file is within the size limit (checked before it is read) and its header's width x height
  within the decompression-bomb guard (`images.MAX_PIXELS`);
- PNG: every chunk's CRC is verified up to IEND (a mismatch is an ImageError: the file is damaged,
  even where a decoder would carry on); JPEG: the segments are walked up to EOI. A file cut short
  fails the walk and goes the decoding path, which names the problem;
- only what makes the pixels travels: IHDR, IDAT and IEND of a PNG (no text, EXIF, ICC or
  animation chunks), a JPEG without APP1–APP13/APP15 (EXIF, XMP, ICC) or comments (APP0 JFIF and
  APP14 Adobe stay: they say how to read the colours), and nothing after the image's end.

Those are the pixels `images.load_image` gives. Anything else (a rotating EXIF orientation, alpha,
palettes, 16-bit, CMYK, WebP, BMP, TIFF, a damaged container) is decoded once and re-encoded the
way GEdit's harness and the earlier versions did: a JPEG source as JPEG, the rest as lossless PNG
(the quality and level in configs/providers.toml [judge_images]). `Sendable.encoding` says which,
and the stages write it beside the judge's answer.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from hilite_cli.images import MAX_PIXELS, ImageError, jpeg_spans, load_image, read_image_file

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_KEPT = frozenset({b"IHDR", b"IDAT", b"IEND"})
# IHDR colour types sent as they are: greyscale (0) and truecolour (2), at 8 bits per sample.
_PNG_PLAIN_TYPES = frozenset({0, 2})
# JPEG markers dropped: APP1–APP13, APP15 (EXIF, XMP, ICC, Photoshop) and COM.
_JPEG_DROPPED = frozenset({*range(0xE1, 0xEE), 0xEF, 0xFE})


@dataclass(frozen=True)
class Sendable:
    """Image bytes a judge can take, and how they were made (`original png`, `re-encoded png`, …)."""

    data: bytes
    encoding: str


def wire_settings() -> dict[str, Any]:
    """configs/providers.toml [judge_images]: re-encoding settings, and the pool's size and look-ahead."""
    from hilite_cli.config import load_config

    return dict(load_config("providers")["judge_images"])


def sendable(path: str | os.PathLike[str], settings: dict[str, Any] | None = None) -> Sendable:
    """The image at `path` as a judge should get it: its own bytes when the container check proves them
    plain (see the module docstring), else decoded (EXIF orientation applied) and re-encoded with
    `settings` (`wire_settings()` when not given). An unreadable, oversized or non-image file raises
    ImageError naming it."""
    data = read_image_file(path)
    name = str(path)
    plain = _plain_png(data, name) if data.startswith(PNG_SIGNATURE) else None
    if plain is None and data.startswith(b"\xff\xd8\xff"):
        plain = _plain_jpeg(data, name)
    if plain is not None:
        return plain
    return reencoded(load_image(path), jpeg=data.startswith(b"\xff\xd8\xff"), settings=settings or wire_settings())


def reencoded(img: Any, *, jpeg: bool, settings: dict[str, Any]) -> Sendable:
    """Decoded pixels encoded for a judge: JPEG for a JPEG source (as GEdit's harness sends), else lossless PNG."""
    buf = io.BytesIO()
    if jpeg:
        quality = int(settings["jpeg_quality"])
        img.save(buf, format="JPEG", quality=quality)
        return Sendable(buf.getvalue(), f"re-encoded jpeg q{quality}")
    img.save(buf, format="PNG", compress_level=int(settings["png_level"]))
    return Sendable(buf.getvalue(), "re-encoded png")


def _bomb_guard(width: int, height: int, name: str) -> None:
    if width * height > MAX_PIXELS:
        raise ImageError(f"{name}: {width}x{height} exceeds the {MAX_PIXELS}-pixel limit (decompression bomb guard)")


def _plain_png(data: bytes, name: str) -> Sendable | None:
    """IHDR + IDAT + IEND of an 8-bit RGB/grey PNG whose every chunk checks out; None when it must be decoded.
    A file that is nothing else is sent as it is, without a copy."""
    view = memoryview(data)
    kept: list[memoryview] = [view[:len(PNG_SIGNATURE)]]
    pos = len(PNG_SIGNATURE)
    seen_ihdr = dropped = False
    while pos + 12 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data):
            return None
        body = view[pos + 8:end - 4]
        if zlib.crc32(body, zlib.crc32(kind)) != int.from_bytes(view[end - 4:end], "big"):
            chunk = kind.decode("latin-1")
            raise ImageError(f"{name}: damaged PNG (its {chunk} chunk fails its CRC check at byte {pos})")
        if kind == b"IHDR":
            if length != 13:
                return None
            width, height, depth, colour, _, _, _ = struct.unpack(">IIBBBBB", body)
            _bomb_guard(width, height, name)
            if depth != 8 or colour not in _PNG_PLAIN_TYPES:
                return None
            seen_ihdr = True
        elif not seen_ihdr or kind == b"eXIf":  # an orientation to apply: decode
            return None
        if kind in _PNG_KEPT:
            kept.append(view[pos:end])
        else:
            dropped = True
        pos = end
        if kind == b"IEND":
            whole = not dropped and end == len(data)
            return Sendable(data if whole else b"".join(kept), "original png")
    return None


def _plain_jpeg(data: bytes, name: str) -> Sendable | None:
    """The JPEG without metadata segments, cut at EOI, when it is RGB or grey and needs no rotation."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:  # reads the markers before the first scan, not the pixels
            _bomb_guard(*img.size, name)
            if img.mode not in ("RGB", "L") or img.getexif().get(0x0112, 1) != 1:
                return None
    except ImageError:
        raise
    except Exception:  # noqa: BLE001 - any header PIL cannot read goes the decoding path, which names it
        return None
    spans = jpeg_spans(data, _JPEG_DROPPED)
    if spans is None:
        return None
    return Sendable(b"".join(data[start:end] for start, end in spans), "original jpeg")


def sendable_bytes(path: str | os.PathLike[str]) -> bytes:
    """The image as a judge should get it (`sendable`): a plain PNG or JPEG as its own bytes
    once its container checks out, without metadata or anything after its end; anything else decoded
    (EXIF orientation applied) and re-encoded, a JPEG as JPEG, the rest as lossless PNG."""
    return sendable(path).data
