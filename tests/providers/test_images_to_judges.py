"""Judges get the decoded image re-encoded: bytes after a PNG's IEND never travel, and an oversized file is
refused before it is read."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.loopback import Loopback

from hilite_cli.images import ImageError
from hilite_cli.providers import Ask, get_provider
from hilite_cli.stages.judging import ImageFiles

JUNK = b"JUNK-AFTER-IEND" * 4096


def _photo(path: Path, fmt: str) -> np.ndarray:
    pixels = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, fmt)
    path.write_bytes(path.read_bytes() + JUNK)
    return pixels


@pytest.mark.parametrize(("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("BMP", "image/png")])
def test_judges_get_the_image_re_encoded_without_trailing_bytes(fmt: str, mime: str, server: Loopback, keys: str,
                                                                tmp_path: Path) -> None:
    path = tmp_path / f"padded.{fmt.lower()}"
    pixels = _photo(path, fmt)
    data = ImageFiles().data(str(path))
    server.script("yes")
    provider = get_provider("openai", base_url=server.openai_url, use_cache=False)
    assert provider.ask(Ask(prompt="ok?", images=[data], expect="yesno")).status == "ok"
    provider.close()
    sent = server.requests[0].images()[0]
    assert b"JUNK" not in sent and len(sent) < len(JUNK)
    assert server.requests[0].image_mimes() == [mime]
    decoded = np.asarray(Image.open(io.BytesIO(sent)).convert("RGB"))
    if fmt != "JPEG":  # lossless: exactly the pixels on disk
        assert np.array_equal(decoded, pixels)


def test_an_oversized_image_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "sparse.png"
    Image.new("RGB", (4, 4)).save(path)
    with path.open("r+b") as fh:
        fh.truncate(300 * 1024 * 1024)  # a PNG followed by 300 MB (sparse: nothing is written)
    files = ImageFiles()
    with pytest.raises(ImageError, match="exceeds the 256 MB image file limit"):
        files.data(str(path))
    with pytest.raises(ImageError, match="exceeds the 256 MB image file limit"):
        files.sha(str(path))
