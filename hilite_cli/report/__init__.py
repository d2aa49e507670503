"""Reports for people: `score-dataset --report` as a self-contained HTML page or a Markdown file.

All report rendering lives in this package: `tables` (cells shared by both formats), `plots`
(matplotlib figures), `examples` (which edits to show, WebP thumbnails), `html_page` and
`markdown_page`. A report renders from the results dict alone (a saved `--json` rebuilds its tables
and distributions); the scored records add the examples and the Instruction/Aesthetics scatter, a
baseline adds the CI comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hilite_cli.records import Record
from hilite_cli.report.html_page import render_html
from hilite_cli.report.markdown_page import render_markdown

__all__ = ["render_html", "render_markdown", "write_report"]


def write_report(
    results: dict[str, Any],
    path: str | Path,
    *,
    records: Sequence[Record] | None = None,
    baseline: dict[str, Any] | None = None,
    reasons: Sequence[str] = (),
) -> list[Path]:
    """Write an `.html` (self-contained) or `.md` (+ `<stem>_files/`) report; returns the files written."""
    path = Path(path)
    base_dir = path.resolve().parent
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        path.write_text(render_html(results, records=records, baseline=baseline, reasons=reasons, base_dir=base_dir), encoding="utf-8")
        return [path]
    if suffix in (".md", ".markdown"):
        plot_dir = f"{path.stem}_files"
        text, files = render_markdown(results, plot_dir, records=records, baseline=baseline, reasons=reasons, base_dir=base_dir)
        written = [path]
        if files:
            (path.parent / plot_dir).mkdir(parents=True, exist_ok=True)
            for name, data in files.items():
                target = path.parent / plot_dir / name
                target.write_bytes(data)
                written.append(target)
        path.write_text(text, encoding="utf-8")
        return written
    raise ValueError(f"`--report` must end in .html or .md, got {path.name!r}")
