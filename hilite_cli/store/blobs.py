"""Images in the store, named by their content: every image enters through the stages' image guard.

Names are what `hilite_cli.images.save_image` gives (16 hex digits of the PNG's sha256), so the
edit stage can write candidates straight into the folder and a blob id is checkable by a regex:
no request can name a path.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from hilite_cli.images import ImageError, load_image, save_image

BLOB_ID = re.compile(r"^[0-9a-f]{16}$")


class BlobStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)

    def put_file(self, path: str | Path) -> str:
        """Load through the image guard (size, bomb, format, EXIF), store as PNG, return the id."""
        return save_image(load_image(path), self.folder).stem

    def put_bytes(self, data: bytes, *, name: str = "upload", max_pixels: int | None = None) -> str:
        """An upload: bytes through the same guard, via a temporary file (the guard reads files);
        an ImageError names the upload, not the temporary file."""
        with tempfile.NamedTemporaryFile(dir=self.folder, prefix=".upload-", suffix=".bin") as tmp:
            tmp.write(data)
            tmp.flush()
            try:
                image = load_image(tmp.name) if max_pixels is None else load_image(tmp.name, max_pixels=max_pixels)
            except ImageError as exc:
                raise ImageError(str(exc).replace(tmp.name, name)) from None
        return save_image(image, self.folder).stem

    def path(self, blob: str) -> Path:
        """The file of a blob id; anything that is not a well-formed, present id is refused."""
        if not isinstance(blob, str) or not BLOB_ID.match(blob):
            raise ImageError(f"not an image id: {blob!r}")
        target = self.folder / f"{blob}.png"
        if not target.is_file() or target.is_symlink():
            raise ImageError(f"no image {blob} in the store")
        return target

    def adopt(self, path: str | Path) -> str:
        """An image already written into the folder by a stage (content-named): its id, checked."""
        p = Path(path).resolve()
        if p.parent != self.folder.resolve() or not BLOB_ID.match(p.stem):
            return self.put_file(p)
        return p.stem
