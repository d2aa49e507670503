"""HTML and Markdown reports render from the results dict alone, with real PNG plots."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import orjson
import pytest

from hilite_cli.report import write_report
from hilite_cli.stages.score_dataset import DatasetInput, score_datasets

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def results(dataset_a: Path, dataset_b: Path) -> dict:
    run = score_datasets([DatasetInput("a", str(dataset_a)), DatasetInput("b<&>", str(dataset_b))], metrics=["ssim", "lowlevel"])
    return orjson.loads(orjson.dumps(run.results))  # as if read back from --json


def test_html_is_self_contained(results: dict, tmp_path: Path) -> None:
    (path,) = write_report(results, tmp_path / "report.html")
    text = path.read_text()
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", text)
    assert len(images) >= 4  # histograms per metric + category bars per dataset
    assert all(base64.b64decode(i).startswith(PNG_MAGIC) for i in images)
    assert "b&lt;&amp;&gt;" in text and "b<&>" not in text  # names are escaped
    assert "Per category" in text and "src=" not in text.replace("src='data:", "")


def test_markdown_writes_linked_pngs(results: dict, tmp_path: Path) -> None:
    written = write_report(results, tmp_path / "report.md")
    text = written[0].read_text()
    assert text.startswith("# hilite score-dataset report")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links and all((tmp_path / link).read_bytes().startswith(PNG_MAGIC) for link in links)
    assert "| Dataset |" in text


def test_unknown_report_suffix(results: dict, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.html or \.md"):
        write_report(results, tmp_path / "report.pdf")
