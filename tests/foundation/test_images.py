from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hilite_cli.images import ImageError, load_image, safe_join, save_image
from support.photos import photo


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    path = tmp_path / "rot.jpg"
    img.save(path, exif=exif)
    assert load_image(path).size == (20, 40)


def test_grayscale_and_rgba_become_rgb(tmp_path: Path) -> None:
    Image.new("LA", (8, 8)).save(tmp_path / "g.png")
    assert load_image(tmp_path / "g.png").mode == "RGB"


def test_refuses_non_images_and_bombs(tmp_path: Path) -> None:
    (tmp_path / "x.png").write_text("not an image")
    with pytest.raises(ImageError, match="not a readable image"):
        load_image(tmp_path / "x.png")
    Image.new("L", (300, 300)).save(tmp_path / "big.png")
    with pytest.raises(ImageError, match="decompression bomb"):
        load_image(tmp_path / "big.png", max_pixels=1000)
    with pytest.raises(ImageError, match="not found"):
        load_image(tmp_path / "missing.png")


def test_outputs_never_escape_out_dir(tmp_path: Path) -> None:
    for bad in ("../x.png", "/etc/x.png", "a/../../x.png"):
        with pytest.raises(ImageError):
            safe_join(tmp_path, bad)
    assert safe_join(tmp_path, "a/b.png") == (tmp_path / "a" / "b.png").resolve()


def test_content_addressed_atomic_save(tmp_path: Path) -> None:
    img = photo("chelsea", 32)
    a = save_image(img, tmp_path, prefix="e-")
    b = save_image(img, tmp_path, prefix="e-")
    assert a == b and a.name.startswith("e-") and a.parent == tmp_path.resolve()
    assert np.array_equal(np.asarray(load_image(a)), np.asarray(img))
    assert not list(tmp_path.glob(".*.tmp"))


def test_saving_from_many_threads_keeps_the_process_umask(tmp_path: Path) -> None:
    """Edits and sheets are saved from worker threads; none may disturb the umask the user set."""
    import os
    import stat
    from concurrent.futures import ThreadPoolExecutor

    umask = os.umask(0)
    os.umask(umask)
    images = [Image.new("RGB", (8, 8), (i, 0, 0)) for i in range(400)]
    with ThreadPoolExecutor(16) as pool:
        paths = list(pool.map(lambda img: save_image(img, tmp_path), images))
    now = os.umask(umask)
    assert now == umask
    assert {stat.S_IMODE((tmp_path / p).stat().st_mode) for p in paths} == {0o666 & ~umask}
