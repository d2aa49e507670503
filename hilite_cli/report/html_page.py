"""The self-contained HTML report: tables with their definitions, plots, and example edits.

Everything is embedded (PNG plots, WebP thumbnails) so the page is one file a CI job can keep as an
artefact. Each thumbnail links the full-size image by its path relative to the page. The page stays
under `configs/report.toml [page] max_html_bytes`: when examples would push it over, the least
important groups lose pictures first and the page says how many were left out.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from hilite_cli.config import load_config
from hilite_cli.records import Record
from hilite_cli.report.examples import (
    Example, ExampleGroup, rank_key, select_examples, thumbnail, unranked_note, value_text,
)
from hilite_cli.report.plots import Plot, make_plots
from hilite_cli.report.tables import (
    TableData,
    baseline_table,
    breakdown_table,
    datasets_table,
    definitions,
    settings_line,
    side_by_side,
)
from hilite_cli.report.results import missing_notes, table_keys

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1320px;padding:1.5em 2em;color:#222}
h1{margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}h3{margin:1.2em 0 .4em}
.settings{color:#555;font-size:.9em}nav a{margin-right:1em;font-size:.9em}
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:.6em 0;font-size:.88em}
td,th{border:1px solid #d5d5d5;padding:4px 8px;text-align:right;vertical-align:top}td small{color:#666;white-space:nowrap}
th{background:#f3f4f6}td.l,th:first-child{text-align:left}
tr.flag td{background:#fde2e1}.note{color:#555;font-size:.85em;margin:.2em 0 1em}
dl.defs{display:grid;grid-template-columns:max-content 1fr;gap:.25em 1em;font-size:.85em}dl.defs dt{font-weight:600}dl.defs dd{margin:0}
ul.missing li{color:#8a5a00}
.plots{display:flex;flex-wrap:wrap;gap:0 2.5em;align-items:flex-start}figure.plot{margin:.5em 0}figure.plot img{max-width:100%}figure.plot figcaption{max-width:640px}figcaption{font-size:.85em;color:#555}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:10px}
.card{border:1px solid #ddd;border-radius:6px;padding:6px;margin:0;background:#fafafa}
.pair{display:flex;align-items:center;gap:4px}.pair a{display:block;flex:1;text-align:center}
.pair img{max-width:100%;max-height:150px;border-radius:3px}.arrow{color:#888}
details summary{cursor:pointer;color:#345;font-size:.9em}h4{margin:1em 0 .4em}
.card q{display:block;font-size:.9em;margin:.4em 0;overflow-wrap:anywhere}
.scores{font-size:.8em;font-family:ui-monospace,monospace}.meta{font-size:.75em;color:#777;overflow-wrap:anywhere}
.missingnote{font-size:.75em;color:#8a5a00}.unreadable{display:inline-block;width:180px;padding:2em 0;background:#eee;color:#a00;font-size:.8em}
"""


def _cell(text: str) -> str:
    """A `mean [low, high]` cell shows its interval on a second, smaller line so wide tables fit; words align left."""
    mean, sep, ci = text.partition(" [")
    if not sep:
        numeric = text[:1].isdigit() or text[:1] in "+-—" or text in ("ok", "new", "regressed")
        return f"<td{'' if numeric else ' class=l'}>{html.escape(text)}</td>"
    return f"<td>{html.escape(mean)}<br><small>[{html.escape(ci)}</small></td>"


def table_html(t: TableData, heading: bool = True) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in t.header)
    body = "".join(
        f"<tr{' class=flag' if i in t.flagged else ''}>" + "".join(_cell(c) for c in row) + "</tr>"
        for i, row in enumerate(t.rows)
    )
    note = f"<p class=note>{html.escape(t.note)}</p>" if t.note else ""
    title = f"<h3>{html.escape(t.title)}</h3>" if heading else ""
    return f"{title}<div class=scroll><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{note}"


def _href(path: str, base_dir: Path | None) -> str:
    if base_dir is None:
        return Path(path).as_uri()
    return quote(Path(os.path.relpath(path, base_dir)).as_posix())


class _Cards:
    """Renders example cards, encoding each thumbnail once."""

    def __init__(self, keys: list[str], base_dir: Path | None, cfg: dict[str, Any]) -> None:
        self.keys = keys
        self.base_dir = base_dir
        self.px = int(cfg["thumbnail_px"])
        self.quality = int(cfg["webp_quality"])
        self._thumbs: dict[str, str | None] = {}

    def _image(self, path: str, alt: str) -> str:
        if path not in self._thumbs:
            self._thumbs[path] = thumbnail(path, self.px, self.quality)
        data = self._thumbs[path]
        if data is None:
            return f"<span class=unreadable title='{html.escape(path)}'>{alt} unreadable</span>"
        return (f"<a href='{html.escape(_href(path, self.base_dir))}' target='_blank' title='open the full-size {alt}'>"
                f"<img class=thumb alt='{alt}' src='{data}'></a>")

    def card(self, e: Example) -> str:
        scores = " · ".join(value_text(k, e.values[k]) for k in self.keys)
        missing = f"<div class=missingnote>no scores: {html.escape(e.missing)}</div>" if e.missing else ""
        meta = " · ".join(x for x in (e.record_id, e.category and f"category {e.category}", e.kind and f"kind {e.kind}") if x)
        return (
            f"<figure class=card><div class=pair>{self._image(e.source, 'source')}<span class=arrow>→</span>"
            f"{self._image(e.edited, 'edited')}</div><figcaption><q>{html.escape(e.instruction)}</q>"
            f"<div class=scores>{html.escape(scores)}</div>{missing}<div class=meta>{html.escape(meta)}</div></figcaption></figure>"
        )


def _examples(groups: list[ExampleGroup], cards: _Cards, budget: int) -> tuple[str, int]:
    """The examples section within `budget` bytes (most important groups first) and how many were left out."""
    rendered: dict[tuple[int, int], str] = {}
    left_out = 0
    order = sorted(range(len(groups)), key=lambda g: groups[g].priority)
    for g in order:
        for j, example in enumerate(groups[g].examples):
            text = cards.card(example)
            if len(text.encode()) <= budget:
                rendered[(g, j)] = text
                budget -= len(text.encode())
            else:
                left_out += 1
    parts, current = [], None
    for g, group in enumerate(groups):
        shown = [rendered[(g, j)] for j in range(len(group.examples)) if (g, j) in rendered]
        if not shown:
            continue
        if group.dataset != current:
            current = group.dataset
            parts.append(f"<h3>{html.escape(current)}</h3>")
        parts.append(f"<h4>{html.escape(group.title)} ({len(shown)})</h4><div class=cards>{''.join(shown)}</div>")
    return "".join(parts), left_out


def _plot(p: Plot) -> str:
    data = base64.b64encode(p.png).decode()
    return (f"<figure class=plot><h3>{html.escape(p.title)}</h3><img alt='{html.escape(p.title)}' "
            f"src='data:image/png;base64,{data}'><figcaption>{html.escape(p.caption)}</figcaption></figure>")


def render_html(
    results: dict[str, Any],
    *,
    records: Sequence[Record] | None = None,
    baseline: dict[str, Any] | None = None,
    reasons: Sequence[str] = (),
    base_dir: Path | None = None,
    title: str = "hilite score-dataset report",
) -> str:
    """The page; `records` (scored, with `eval`) add the scatter and the examples, `baseline` the CI view."""
    cfg = load_config("report")
    cap = int(cfg["page"]["max_html_bytes"])
    keys = table_keys(results)
    tables = [datasets_table(results)]
    comparison = [t for t in (side_by_side(results),) if t]
    if baseline is not None:
        comparison.insert(0, baseline_table(results, baseline, list(reasons)))
    breakdowns = [t for t in (breakdown_table(results, "kinds"), breakdown_table(results, "categories")) if t]
    bar_key = rank_key(results) or (keys[0] if keys else None)
    plots = make_plots(results, records, bar_key)
    notes = missing_notes(results)

    defs = definitions(tables + comparison + breakdowns)
    defs_html = ("<details open><summary>What the columns mean</summary><dl class=defs>"
                 + "".join(f"<dt>{html.escape(c)}</dt><dd>{html.escape(d)}</dd>" for c, d in defs) + "</dl></details>")
    sections = [("datasets", "Datasets", "".join(table_html(t, heading=False) for t in tables) + defs_html)]
    if notes:
        sections.append(("missing", "Missing values", "<ul class=missing>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>"))
    if comparison:
        sections.append(("comparison", "Comparison", "".join(table_html(t) for t in comparison)))
    if plots:
        sections.append(("plots", "Plots", "<div class=plots>" + "".join(_plot(p) for p in plots) + "</div>"))
    if breakdowns:
        sections.append(("breakdowns", "Per kind and per category", "".join(table_html(t) for t in breakdowns)))

    def page(examples_html: str | None) -> str:
        body = list(sections)
        if examples_html is not None:
            body.append(("examples", "Examples", examples_html))
        nav = "".join(f"<a href='#{sid}'>{html.escape(name)}</a>" for sid, name, _ in body)
        return "".join([
            f"<!doctype html><html lang=en><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
            f"<style>{CSS}</style></head><body>",
            f"<h1>{html.escape(title)}</h1><p class=settings>{html.escape(settings_line(results))}</p><nav>{nav}</nav>",
            *(f"<section id='{sid}'><h2>{html.escape(name)}</h2>{content}</section>" for sid, name, content in body),
            "</body></html>",
        ])

    if not records:
        return page(None)
    groups = select_examples(records, results, cfg["examples"])
    intro_len = 600  # the intro paragraph written below, generously
    budget = cap - len(page("").encode()) - intro_len
    examples_html, left_out = _examples(groups, _Cards(keys, base_dir, cfg["examples"]), max(0, budget))
    intro = ("Source → edited, with the instruction and this edit's scores. Click a picture to open the full-size "
             "file (linked by its path relative to this page).")
    if left_out:
        intro += (f" {left_out} examples were left out to keep this page under {cap / 1e6:g} MB "
                  "(configs/report.toml [page] max_html_bytes).")
    if (unranked := unranked_note(results)) and groups:
        intro += " " + unranked
    if not groups:
        intro = "No scored record to show."
    return page(f"<p class=note>{html.escape(intro)}</p>{examples_html}")
