"""Browse: filters over a triplets manifest, paging, and the |I_e − I_0| difference map."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import orjson
from PIL import Image
from studio.helpers import Client, new_store

from hilite_cli.studio.app import StudioSettings
from hilite_cli.studio.browse import Filters, load_manifest


def _dataset(tmp_path: Path) -> Path:
    src = np.full((16, 16, 3), 100, np.uint8)
    edited = src.copy()
    edited[4:8, 4:8] = [160, 100, 40]  # a 4×4 patch changed by at most 60
    Image.fromarray(src).save(tmp_path / "src.png")
    Image.fromarray(edited).save(tmp_path / "out.png")
    rows = []
    for i in range(15):
        rows.append({"id": f"r{i}", "source": "src.png", "edited": "out.png", "instruction": f"edit {i}",
                     "kind": "forward" if i % 3 else "inverse", "category": "colour" if i % 2 else "style",
                     "passed": i % 5 != 0, "scores": {"instruction": None if i == 7 else i / 3, "aesthetics": 4.0}})
    path = tmp_path / "triplets.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def test_filters_keep_what_they_say_and_null_scores_fall_outside_ranges(tmp_path: Path) -> None:
    manifest = load_manifest(str(_dataset(tmp_path)))
    keep = lambda **q: [r.record["id"] for r in manifest.rows if Filters.from_query(q).keep(r)]
    assert keep(kind="inverse") == ["r0", "r3", "r6", "r9", "r12"]
    assert keep(kind="inverse", category="style") == ["r0", "r6", "r12"]
    assert keep(passed="no") == ["r0", "r5", "r10"]
    assert keep(min_instruction="2", max_instruction="3") == ["r6", "r8", "r9"]  # r7's null is not in range
    assert len(keep()) == 15


def test_a_record_without_passed_is_unknown_not_failed(tmp_path: Path) -> None:
    """Triplets carry no `passed`: Browse says "unknown", and neither yes nor no keeps them."""
    path = tmp_path / "t.jsonl"
    path.write_bytes(orjson.dumps({"id": "t", "instruction": "x", "kind": "forward"}) + b"\n")
    [row] = load_manifest(str(path)).rows
    assert row.passed == "unknown" and row.score("instruction") == "unknown"
    assert [Filters.from_query({"passed": p}).keep(row) for p in ("yes", "no", "unknown")] == [False, False, True]
    client = Client(new_store(tmp_path), StudioSettings(browse=[str(path)]))
    page = client.get("/browse").text
    assert "passed: unknown" in page and "passed: no" not in page
    client.close()


def test_browse_pages_and_difference_map(tmp_path: Path) -> None:
    client = Client(new_store(tmp_path), StudioSettings(browse=[str(_dataset(tmp_path))]))
    first = client.get("/browse", params={"kind": "forward"})
    assert first.status_code == 200
    assert "10 record(s) · page 1 of 1" in first.text
    paged = client.get("/browse")
    assert "page 1 of 2" in paged.text and paged.text.count('class="row-card"') == 12
    assert client.get("/browse", params={"min_aesthetics": "abc"}).status_code == 400

    diff = client.get("/browse/0/diff/1")
    assert diff.status_code == 200
    image = np.asarray(Image.open(io.BytesIO(diff.content)))
    assert image.shape == (16, 16)
    assert image[5, 5] == 255 and image[0, 0] == 0 and int((image > 0).sum()) == 16
    assert client.get("/browse/0/diff/99").status_code == 404
    client.close()
