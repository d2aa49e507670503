"""HTML and Markdown reports: tables, definitions, plots and example thumbnails, within the size cap."""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path

import orjson
import pytest

from hilite_cli.report.regression import check_regression
from hilite_cli.report import render_html, write_report
from hilite_cli.stages.score_dataset import DatasetInput, score_datasets

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def run(dataset_a: Path, dataset_b: Path):
    return score_datasets([DatasetInput("a", str(dataset_a)), DatasetInput("b<&>", str(dataset_b))], metrics=["ssim", "lowlevel"])


@pytest.fixture
def results(run) -> dict:
    return orjson.loads(orjson.dumps(run.results))  # as if read back from --json


def test_html_from_results_alone_is_self_contained(results: dict, tmp_path: Path) -> None:
    (path,) = write_report(results, tmp_path / "report.html")
    text = path.read_text()
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", text)
    assert len(images) >= 3  # grouped metric bars, per-category bars, overlaid distributions
    assert all(base64.b64decode(i).startswith(PNG_MAGIC) for i in images)
    assert "b&lt;&amp;&gt;" in text and "b<&>" not in text  # names are escaped
    assert "Per category" in text and "Per kind" in text and "Datasets side by side" in text
    assert "src='http" not in text and "Examples" not in text  # nothing fetched; no records, no pictures


def test_html_shows_thumbnails_linking_full_size_files(run, tmp_path: Path) -> None:
    (path,) = write_report(run.results, tmp_path / "report.html", records=run.scored)
    text = path.read_text()
    thumbs = re.findall(r"<img class=thumb alt='(source|edited)' src='data:image/webp;base64,([A-Za-z0-9+/=]+)'", text)
    assert thumbs and all(base64.b64decode(b)[8:12] == b"WEBP" for _, b in thumbs)
    links = re.findall(r"<a href='([^']+)' target='_blank'", text)
    assert links and all((tmp_path / link).is_file() for link in links)  # relative to the report
    assert "highest Geo" in text and "lowest Geo" in text and "seeded random sample" in text
    assert "category: add" in text and "kind: forward" in text
    assert "Instruction vs Aesthetics" in text  # the scatter needs the per-record scores


def test_column_definitions_cover_every_column(run) -> None:
    text = render_html(run.results, records=run.scored)
    defined = set(re.findall(r"<dt>([^<]+)</dt>", text))
    headers = {h for h in re.findall(r"<th>([^<]+)</th>", text) if not h.startswith("Δ")}
    assert headers - {"a", "b&lt;&amp;&gt;"} <= defined
    assert "SSIM unch." in defined and "Changed frac." in defined


def test_size_cap_drops_examples_and_says_so(run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from hilite_cli.config import load_config

    full = render_html(run.results, records=run.scored)
    cfg = {**load_config("report")}
    cap = len(full.encode()) - 20_000
    cfg["page"] = {"max_html_bytes": cap}
    monkeypatch.setattr("hilite_cli.report.html_page.load_config", lambda name: cfg)
    capped = render_html(run.results, records=run.scored)
    assert len(capped.encode()) <= cap
    assert capped.count("class=card") < full.count("class=card")
    assert re.search(r"\d+ examples were left out to keep this page under", capped)


def test_baseline_comparison_flags_the_regression(run, results: dict) -> None:
    base = orjson.loads(orjson.dumps(results))
    base["datasets"]["a"]["metrics"]["ssim"]["mean"] += 0.2
    reasons = check_regression(run.results, base, max_drop=0.05)
    text = render_html(run.results, baseline=base, reasons=reasons)
    assert "Compared with the baseline" in text
    flagged = re.findall(r"<tr class=flag>(.*?)</tr>", text)
    assert len(flagged) == 1 and ">SSIM<" in flagged[0] and "regressed" in flagged[0] and "-0.200" in flagged[0]


def test_no_judge_wording_is_honest(make_dataset, tmp_path: Path) -> None:
    data = make_dataset("plain", 4, scores=False)
    run = score_datasets([DatasetInput("plain", str(data))], metrics=["ssim"])
    text = render_html(run.results, records=run.scored)
    assert "excluded from the means" not in text and "without both" not in text
    assert "no judge was asked for" in text
    assert "Instr" not in re.findall(r"<thead>.*?</thead>", text)[0]


def test_markdown_writes_linked_files(run, tmp_path: Path) -> None:
    written = write_report(run.results, tmp_path / "report.md", records=run.scored)
    text = written[0].read_text()
    assert text.startswith("# hilite score-dataset report")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links and all((tmp_path / link).is_file() for link in links)
    assert any(link.endswith(".webp") for link in links) and "| Dataset |" in text
    assert "## What the columns mean" in text


def test_unknown_report_suffix(results: dict, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.html or \.md"):
        write_report(results, tmp_path / "report.pdf")


@pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="needs a chromium binary (apt-get install chromium)")
def test_report_renders_in_chromium_with_its_thumbnails(run, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    (path,) = write_report(run.results, tmp_path / "report.html", records=run.scored)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            decoded = page.eval_on_selector_all("img.thumb", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")
            plots = page.eval_on_selector_all("figure.plot img", "imgs => imgs.map(i => i.naturalWidth)")
        finally:
            browser.close()
    assert problems == []
    assert len(decoded) >= 8 and all(decoded)
    assert plots and all(w > 100 for w in plots)


def test_an_unjudged_dataset_reads_as_unjudged_not_as_failed(tmp_path: Path) -> None:
    """Offline (no judge, records without scores): no bare "0" under "with scores", no "sorted by Geo"
    without a Geo column, and the page says why there are no highest/lowest examples."""
    from score.conftest import write_dataset

    manifest = write_dataset(tmp_path / "plain", 4, scores=False)
    run = score_datasets([DatasetInput("demo", str(manifest))], metrics=["ssim", "lowlevel"])
    text = render_html(run.results, records=run.scored)
    row = re.search(r"<tr><td class=l>demo</td>(.*?)</tr>", text)
    assert row and re.findall(r"<td>([^<]*)</td>", row.group(1))[:3] == ["4", "—", "0"]
    assert "sorted by Geo" not in text and "in input order" in text
    assert "<h3>demo: highest" not in text and "No highest/lowest examples" in text and "seeded random sample" in text
