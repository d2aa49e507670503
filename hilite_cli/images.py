"""Safe image I/O: every stage loads and writes images through here.

Loading guards against decompression bombs and non-images; writing is content-addressed and
atomic (temp file + rename) and never leaves `--out`, whatever a record says.
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

# 64 megapixels: far above any editor's working size, far below what exhausts memory.
MAX_PIXELS = 64 * 1024 * 1024


class ImageError(Exception):
    """An image could not be read or written; the message names the file and the problem."""

    kind = "bad_image"


def load_image(path: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open `path` as RGB with EXIF orientation applied, refusing non-images and oversized files."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"image file not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise ImageError(f"{path}: {w}x{h} exceeds the {max_pixels}-pixel limit (decompression bomb guard)")
                img = ImageOps.exif_transpose(img)
                return img.convert("RGB")
    except ImageError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{path}: not a readable image ({exc})") from None
    except OSError as exc:
        raise ImageError(f"{path}: cannot decode image ({exc})") from None


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


def encode_image(img: Image.Image, fmt: str = "png") -> bytes:
    """Encode to bytes; PNG is lossless so hashes and pixel checks stay exact."""
    buf = io.BytesIO()
    img.save(buf, format="JPEG" if fmt.lower() in ("jpg", "jpeg") else fmt.upper(), **({"quality": 95} if fmt.lower() in ("jpg", "jpeg") else {}))
    return buf.getvalue()


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def safe_join(out_dir: str | os.PathLike[str], relative: str) -> Path:
    """`out_dir / relative`, refusing absolute paths and any `..` that would leave `out_dir`."""
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


def write_bytes_atomic(target: Path, data: bytes) -> None:
    """Write via a temp file in the same folder and rename, so no reader sees a half-written file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
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
    img: Image.Image, out_dir: str | os.PathLike[str], *, prefix: str = "", subdir: str = "", fmt: str = "png"
) -> Path:
    """Save under `out_dir/subdir/` with a content-addressed name (`prefix` + hash); returns the path.

    The same pixels always land on the same name, so a resumed run rewrites nothing new.
    """
    data = encode_image(img, fmt)
    name = f"{prefix}{content_hash(data)[:16]}.{fmt.lower()}"
    target = safe_join(out_dir, f"{subdir}/{name}" if subdir else name)
    if not target.exists():
        write_bytes_atomic(target, data)
    return target


def file_sha256(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
