"""The atlas as one self-contained page: the verdict matrix (verdicts x models, each cell the
verdict with its estimate and interval), the reference learners apart (each with the verdict
it should get, and whether the rule separates them), and the estimates against parameter
count. No scripts, no external URLs."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

from bayesmatrix.report.html import STYLE, fmt_number, status_class
from bayesmatrix.results.io import write_text
from bayesmatrix.viz.atlas_plot import plot_size
from bayesmatrix.viz.common import figure_png


def _cell(row: pd.Series | None) -> str:
    if row is None:
        return "<td class='note'>not run</td>"
    number = fmt_number(row["estimate"])
    if pd.notna(row["lo"]) or pd.notna(row["hi"]):
        number += f" [{fmt_number(row['lo'])}, {fmt_number(row['hi'])}]"
    expected = row["expected"]
    mark = ""
    if isinstance(expected, str):
        right = expected == row["status"]
        mark = f"<br><span class='{'' if right else 'flag'}'>should be {html.escape(expected)}"
        mark += " ✓</span>" if right else " ✗</span>"
    return (
        f"<td class='{status_class(row['status'])}' title='{html.escape(row['evidence'])}'>"
        f"{html.escape(row['status'])}<br><span class='num'>{number}</span>{mark}</td>"
    )


def render_atlas(
    table: pd.DataFrame, separation: pd.DataFrame, models: list[str], command: str, path: str | Path
) -> Path:
    """Write the atlas page (the table of atlas(), with each rule's separation of the
    reference learners) and return its path."""
    refs = [m for m in models if table.loc[table["model"] == m, "reference"].any()]
    real = [m for m in models if m not in refs]
    order = real + refs
    sep = separation.set_index(["claim", "rule", "key"])
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<title>bayesmatrix atlas</title>",
        f"<style>{STYLE}.ref{{background:#eef3fb}}</style></head><body>",
        "<h1>bayesmatrix atlas: Bayesian behaviour across models</h1>",
        f"<p>{len(real)} model(s) and {len(refs)} reference learner(s) by construction; "
        f"{len(table)} verdicts. Command: <code>{html.escape(command)}</code></p>",
        "<p>Each cell: the verdict, its key estimate and 95% interval (hover for the "
        "evidence). Reference learners (shaded columns) are built to be Bayesian or not, so "
        "each has a right verdict per rule: a rule <i>separates</i> them when their right "
        "verdicts differ and each got its own.</p>",
        "<h2>Verdicts</h2><table><tr><th>claim</th><th>verdict</th>",
    ]
    parts += [f"<th>{html.escape(m)}</th>" for m in real]
    parts += [f"<th class='ref'>{html.escape(m)}</th>" for m in refs]
    parts.append("<th>separates the references</th></tr>")
    by = {(r["claim"], r["rule"], r["key"], r["model"]): r for _, r in table.iterrows()}
    rows = table.drop_duplicates(["claim", "rule", "key"])[["claim", "rule", "key"]]
    for claim, rule, key in rows.itertuples(index=False):
        parts.append(f"<tr><td>{html.escape(claim)}</td><td>{html.escape(key)}</td>")
        parts += [_cell(by.get((claim, rule, key, m))) for m in order]
        if (claim, rule, key) in sep.index:
            s = sep.loc[(claim, rule, key)]
            word = "yes" if s["separates"] else "no"
            parts.append(f"<td>{word} ({s['right']} of {s['references']} right)</td></tr>")
        else:
            parts.append("<td class='note'>–</td></tr>")
    parts.append("</table>")
    figure = plot_size(table)
    parts.append("<h2>Estimates against model size</h2>")
    if figure is None:
        parts.append("<p class='note'>No verdict was measured on two models of known size.</p>")
    else:
        data = base64.b64encode(figure_png(figure)).decode("ascii")
        parts.append(f'<img alt="estimates against parameters" src="data:image/png;base64,{data}">')
        parts.append(
            "<p class='note'>Reference learners have no parameter count and are not drawn; a "
            "dotted line is the rule's threshold.</p>"
        )
    parts.append("</body></html>")
    return write_text(path, "\n".join(parts))
