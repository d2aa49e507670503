"""`debias --report x.html`: the debias sections as one self-contained page, with the Figure 11 sweep."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence

from hilite_cli.report.html_page import CSS, table_html
from hilite_cli.report.tables import TableData
from hilite_cli.report.debias_sections import Section

# What the debias tables' columns mean (NHR 3.3 and Appendix B).
DEFINITIONS = {
    "axis": "Instruction adherence or aesthetics, each on the 1–5 scale.",
    "items scored": "Items with at least one valid rating on this axis.",
    "pairwise Spearman ρ": "Mean ± std of Spearman correlations between every two raters on the items both rated.",
    "pairs used (skipped)": "Rater pairs that entered the mean, and why others did not (too few shared items, constant ratings).",
    "Krippendorff α (interval)": "Agreement of all raters together, interval metric (1 = perfect, 0 = chance).",
    "rater": "Who gave the ratings.",
    "instr. items (shared)": "Items this rater scored on Instruction (of them, items someone else also scored).",
    "instr. bias": "The rater's mean offset from the other raters on shared items (NHR eq. 1), removed in eq. 2.",
    "aesth. items (shared)": "Items this rater scored on Aesthetics (of them, items someone else also scored).",
    "aesth. bias": "As instr. bias, for Aesthetics.",
    "count": "What was joined or left out when matching predictions to de-biased items.",
    "items": "How many items.",
    "n": "Items in the row.",
    "MAE": "Mean absolute error of the validator's score against the de-biased human score.",
    "Spearman ρ": "Rank correlation of the validator's scores with the de-biased human scores.",
    "category": "The item's category (--category-field).",
    "threshold (instr./aesth.)": "The validator counts an edit as a success when both scores reach these thresholds.",
    "precision": "Of the edits the validator accepts, the share humans call a success.",
    "recall": "Of the human successes, the share the validator accepts.",
    "F1": "Harmonic mean of precision and recall.",
    "accuracy": "Share of edits where validator and humans agree.",
    "tp/fp/fn/tn": "True/false positives and negatives at the threshold.",
    "bucket": "Range of the de-biased human score.",
    "instruction MAE": "MAE of Instruction for items whose human score falls in the bucket.",
    "aesthetics MAE": "MAE of Aesthetics for items whose human score falls in the bucket.",
}


def render_debias_html(sections: Sequence[Section], sweep_png: bytes | None = None, title: str = "hilite debias report") -> str:
    """Tables, their column definitions, and the precision/recall sweep when there is one."""
    tables = [TableData(s.title, s.columns, s.rows, s.note) for s in sections]
    columns = dict.fromkeys(c for t in tables for c in t.header)
    defs = "".join(f"<dt>{html.escape(c)}</dt><dd>{html.escape(DEFINITIONS[c])}</dd>" for c in columns if c in DEFINITIONS)
    parts = [
        f"<!doctype html><html lang=en><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>",
        *(table_html(t) for t in tables),
    ]
    if sweep_png is not None:
        data = base64.b64encode(sweep_png).decode()
        parts.append("<figure class=plot><h3>Precision and recall vs threshold (Figure 11)</h3>"
                     f"<img alt='precision/recall sweep' src='data:image/png;base64,{data}'></figure>")
    parts.append(f"<h2>What the columns mean</h2><dl class=defs>{defs}</dl></body></html>")
    return "".join(parts)
