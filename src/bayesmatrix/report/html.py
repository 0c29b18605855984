"""One self-contained HTML report: figures embedded as data URIs, no scripts, no external URLs,
so it opens offline and can be mailed as one file."""

from __future__ import annotations

import base64
import html
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bayesmatrix.report.validate import ClaimSection
from bayesmatrix.results.verdicts import Verdict

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;font-size:.9em}
td,th{border:1px solid #ddd;padding:4px 6px;vertical-align:top;text-align:left}
.supported{background:#e6f4ea}.not-supported{background:#fce8e6}
.inconclusive{background:#fef7e0}code{background:#f4f4f4;padding:1px 4px;font-size:.85em}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}.note{color:#666;font-style:italic}
.rule{color:#444;font-size:.9em}
"""


def _status_class(status: str) -> str:
    return status.replace(" ", "-")


def _img(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(Path(path).name)}" src="data:image/png;base64,{data}">'


def summary_label(verdict: Verdict, repeated: bool) -> str:
    """The claim as the summary shows it: a text shared by several verdicts gets what tells
    them apart (the model and condition its evidence starts with)."""
    if not repeated:
        return verdict.statement
    which = verdict.evidence.split(":", 1)[0].strip()
    return f"{verdict.statement} ({which[:80]})"


def render_report(
    sections: list[ClaimSection], models: list[str], settings: dict, command: str, path: str | Path
) -> Path:
    """Write the report and return its path."""
    counts = Counter(v.status for s in sections for v in s.verdicts)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<title>bayesmatrix validation report</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>bayesmatrix: validating 'The Matrix' (Dalal &amp; Misra) on real models</h1>",
        f"<p>Models: <b>{html.escape(', '.join(models))}</b>. Generated "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Command: <code>{html.escape(command)}</code></p>",
        "<p>Settings: "
        + ", ".join(f"{html.escape(k)}={html.escape(str(v))}" for k, v in settings.items())
        + "</p>",
        f"<p>Verdicts: {counts.get('supported', 0)} supported, "
        f"{counts.get('not supported', 0)} not supported, "
        f"{counts.get('inconclusive', 0)} inconclusive. Each verdict states the numbers and "
        "95% intervals behind it; a verdict can come out either way.</p>",
    ]
    if settings.get("profile") == "test":
        parts.append(
            "<p class='note'><b>Test profile:</b> the smallest settings that still check "
            "something. These verdicts show that every claim runs; they are smoke-level, not "
            "evidence (run the quick or full profile for that).</p>"
        )
    parts.append(
        "<h2>Summary</h2><table><tr><th>claim family</th><th>claim</th><th>verdict</th></tr>"
    )
    repeated = Counter(v.statement for s in sections for v in s.verdicts)
    for s in sections:
        for v in s.verdicts:
            parts.append(
                f"<tr class='{_status_class(v.status)}'><td>{html.escape(s.title)}</td>"
                f"<td>{html.escape(summary_label(v, repeated[v.statement] > 1))}</td>"
                f"<td>{html.escape(v.status)}</td></tr>"
            )
        if s.note:
            parts.append(
                f"<tr><td>{html.escape(s.title)}</td><td class='note'>"
                f"{html.escape(s.note)}</td><td>-</td></tr>"
            )
    parts.append("</table>")
    for s in sections:
        parts.append(f"<h2>{html.escape(s.title)}</h2>")
        if s.note:
            parts.append(f"<p class='note'>{html.escape(s.note)}</p>")
        if s.rule:
            parts.append(f"<p class='rule'>Verdict rule: {html.escape(s.rule)}</p>")
        if s.calibration:
            parts.append(f"<p class='rule'>{html.escape(s.calibration)}</p>")
        if s.verdicts:
            parts.append("<table><tr><th>verdict</th><th>claim</th><th>evidence</th></tr>")
            for v in s.verdicts:
                parts.append(
                    f"<tr class='{_status_class(v.status)}'><td>"
                    f"{html.escape(v.status)}</td><td>{html.escape(v.statement)}</td><td>"
                    f"{html.escape(v.evidence)}</td></tr>"
                )
            parts.append("</table>")
        for figure, reproduce in s.figures:
            parts.append(_img(figure))
            parts.append(f"<p>Reproduce: <code>{html.escape(reproduce)}</code></p>")
    parts.append("</body></html>")
    from bayesmatrix.results.io import write_text

    return write_text(path, "\n".join(parts))
