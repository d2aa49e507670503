"""Safe image I/O: every stage loads and writes images through here.

Loading guards against oversized files (checked before a byte is read), decompression bombs and
non-images; writing is content-addressed and atomic (temp file + rename) and never leaves `--out`,
whatever a record says. A path may be an fsspec URL (storage.py): the same guards apply through fsspec. What leaves the process is only ever the image itself: judges get a
plain PNG or JPEG as its own checked bytes and anything else re-encoded (`image_wire.sendable_bytes`,
image_wire.py), exports get the file cut at the end of its image data (`image_file_bytes`), so junk
appended after a PNG's IEND never travels.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from hilite_cli import storage
from hilite_cli.manifest import is_stream, write_target
from hilite_cli.outputs import temp_prefix

# 64 megapixels: far above any editor's working size, far below what exhausts memory.
MAX_PIXELS = 64 * 1024 * 1024
_MB = 1024 * 1024


class ImageError(Exception):
    """An image could not be read or written; the message names the file and the problem."""

    kind = "bad_image"


def max_file_bytes() -> int:
    """The largest image file any stage reads (configs/thresholds.toml [images] max_file_mb)."""
    from hilite_cli.config import load_config

    return int(float(load_config("thresholds")["images"]["max_file_mb"]) * _MB)


def check_file_size(path: str | os.PathLike[str]) -> None:
    """Refuse a missing file or one over the configured size, before any of it is read."""
    try:
        size = storage.size(str(path)) if storage.is_url(path) else os.stat(path).st_size
    except FileNotFoundError:
        raise ImageError(f"image file not found: {path}") from None
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror or exc})") from None
    limit = max_file_bytes()
    if size > limit:
        raise ImageError(
            f"{path}: {size / _MB:.1f} MB exceeds the {limit / _MB:g} MB image file limit "
            "(configs/thresholds.toml [images] max_file_mb)"
        )


def load_image(path: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open `path` as RGB with EXIF orientation applied, refusing non-images and oversized files."""
    return decode_image(read_image_file(path), str(path), max_pixels=max_pixels)


def read_image_file(path: str | os.PathLike[str]) -> bytes:
    """An image file's bytes (local or URL), its size checked before the read; failures are ImageErrors."""
    path = str(path) if storage.is_url(path) else Path(path)
    if not storage.is_file(path):
        raise ImageError(f"image file not found: {path}")
    check_file_size(path)
    try:
        return storage.read_bytes(path)
    except OSError as exc:
        raise ImageError(f"{path}: cannot read image ({exc})") from None


def decode_image(data: bytes, name: str, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Image bytes as RGB with EXIF orientation applied, refusing non-images and decompression bombs;
    `name` says which image in the error (bytes a caller already holds need not be read again)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise ImageError(f"{name}: {w}x{h} exceeds the {max_pixels}-pixel limit (decompression bomb guard)")
                img = ImageOps.exif_transpose(img)
                return img.convert("RGB")
    except ImageError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{name}: not a readable image ({exc})") from None
    except OSError as exc:
        raise ImageError(f"{name}: cannot decode image ({exc})") from None


def load_mask(path: str | os.PathLike[str], size: tuple[int, int] | None = None) -> np.ndarray:
    """A boolean mask from a single-channel (or any) image: True where the pixel is > 127."""
    img = load_image(path).convert("L")
    if size is not None and img.size != size:
        img = img.resize(size, Image.NEAREST)
    return np.asarray(img) > 127


def mask_to_image(mask: np.ndarray) -> Image.Image:
    """A single-channel 0/255 PNG-ready image from a boolean or 0–255 mask."""
    arr = mask.astype(np.uint8) * 255 if mask.dtype == bool else np.clip(mask, 0, 255).astype(np.uint8)
    return Image.fromarray(arr, mode="L")


def encode_image(img: Image.Image, fmt: str = "png", *, png_level: int | None = None) -> bytes:
    """Encode to bytes; PNG is lossless so hashes and pixel checks stay exact. `png_level` (zlib 0-9,
    PIL's default 6) trades file size for CPU: every level decodes to the same pixels."""
    buf = io.BytesIO()
    extra = {"compress_level": png_level} if png_level is not None and fmt.lower() == "png" else {}
    img.save(buf, format="JPEG" if fmt.lower() in ("jpg", "jpeg") else fmt.upper(), **({"quality": 95} if fmt.lower() in ("jpg", "jpeg") else {}), **extra)
    return buf.getvalue()


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def safe_join(out_dir: storage.Location, relative: str) -> storage.Location:
    """`out_dir / relative`, refusing absolute paths and any `..` that would leave `out_dir` (a URL stays a URL)."""
    if storage.is_url(out_dir):
        try:
            return storage.join_url(str(out_dir), relative)
        except ValueError as exc:
            raise ImageError(str(exc)) from None
    root = Path(out_dir).resolve()
    rel = Path(relative)
    if rel.is_absolute() or relative.startswith(("/", "\\")):
        raise ImageError(f"refusing absolute output path {relative!r}: outputs stay under {root}")
    target = (root / rel).resolve()
    if target != root and root not in target.parents:
        raise ImageError(f"refusing output path {relative!r}: it escapes {root}")
    return target


def _read_umask() -> int:
    """The process umask. Reading it means setting it, so this runs once, at import, never from worker threads
    (two threads reading it at once could leave the process with umask 0)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def file_mode() -> int:
    """The mode a plain `open()` would give a new file under the process umask."""
    return 0o666 & ~_UMASK


def write_bytes_atomic(target: storage.Location, data: bytes) -> None:
    """Write via a temp file in the same folder and rename, so no reader sees a half-written file.

    A symlink is written through (its target is renamed over, the link stays); a device or FIFO is
    written in place, since renaming over it would replace it (`/dev/stdout` for the whole machine)."""
    if storage.is_url(target):
        storage.write_url_atomic(str(target), data)
        return
    target = Path(write_target(target))
    if is_stream(target):
        with open(target, "wb") as fh:
            fh.write(data)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(target), suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode())  # mkstemp makes 0600; outputs are shared like any written file
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_image(
    img: Image.Image, out_dir: storage.Location, *, prefix: str = "", subdir: str = "", fmt: str = "png"
) -> storage.Location:
    """Save under `out_dir/subdir/` with a content-addressed name (`prefix` + hash); returns the path.

    The same pixels always land on the same name, so a resumed run rewrites nothing new.
    """
    data = encode_image(img, fmt)
    name = f"{prefix}{content_hash(data)[:16]}.{fmt.lower()}"
    target = safe_join(out_dir, f"{subdir}/{name}" if subdir else name)
    if not storage.exists(target):
        write_bytes_atomic(target, data)
    return target


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of the file as stored (size-checked first, then streamed)."""
    check_file_size(path)
    h = hashlib.sha256()
    with storage.open_read(path) as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sniff_format(path: str | os.PathLike[str]) -> str | None:
    """`png`, `jpeg`, `webp` or `gif` from the file's first bytes (never from its name), else None."""
    with storage.open_read(path) as fh:
        head = fh.read(12)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"GIF8"):
        return "gif"
    return None


def image_file_bytes(path: str | os.PathLike[str]) -> tuple[bytes, str]:
    """`(bytes, suffix)` of the image itself, for exports: a PNG up to its IEND chunk, a JPEG up to its EOI
    marker, a WebP to the length its RIFF header gives; so the file's own encoding is kept byte for
    byte while anything appended after it is dropped. Other formats, or a file whose end cannot be
    found, are re-encoded as PNG."""
    load_image(path)  # size, decodability and the pixel bomb guard, before the bytes are read
    fmt = sniff_format(path)
    data = storage.read_bytes(path)
    end = {"png": _png_end, "jpeg": _jpeg_end, "webp": _webp_end}.get(fmt or "", lambda _: None)(data)
    if end is None:
        return encode_image(load_image(path), "png"), ".png"
    return data[:end], {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}[fmt or ""]


def _png_end(data: bytes) -> int | None:
    """Offset just past the IEND chunk (chunks: 4-byte length, 4-byte type, data, 4-byte CRC)."""
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        pos += 12 + length
        if kind == b"IEND":
            return pos if pos <= len(data) else None
    return None


_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def _jpeg_end(data: bytes) -> int | None:
    """Offset just past the EOI marker."""
    spans = jpeg_spans(data)
    return None if spans is None else spans[-1][1]


def jpeg_spans(data: bytes, dropped: frozenset[int] = frozenset()) -> list[tuple[int, int]] | None:
    """The byte ranges of a JPEG from SOI to EOI, less the segments whose markers are in `dropped`,
    walking segments by their lengths (so a thumbnail's EOI inside APP1 is skipped) and each scan's
    entropy-coded data to the next real marker; None when the walk fails (no EOI: cut short) or a scan
    starts before any frame header."""
    spans: list[tuple[int, int]] = []
    start = pos = 2
    framed = False
    while pos + 2 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            return [(0, 2)] + [span for span in [*spans, (start, pos + 2)] if span[1] > span[0]]
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if pos + 4 > len(data):
            return None
        end = pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        framed = framed or marker in _JPEG_SOF
        if marker in dropped:
            spans.append((start, pos))
            start = end
        pos = end
        if marker == 0xDA:
            if not framed:
                return None
            scan_end = _scan_end(data, pos)
            if scan_end is None:
                return None
            pos = scan_end
    return None


def _scan_end(data: bytes, pos: int) -> int | None:
    """The offset of the first real marker after a scan's entropy-coded data (not a stuffed 0xFF00,
    a restart marker or fill bytes)."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            return None
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            pos += 2
        elif following == 0xFF:
            pos += 1
        else:
            return pos


def _webp_end(data: bytes) -> int | None:
    size = int.from_bytes(data[4:8], "little") + 8
    return size if size <= len(data) else None
