"""One self-contained HTML report a reader scans in a minute: a summary of every verdict with
its key estimate, interval and threshold (linked to its section), the rules whose measured
error rates miss their targets flagged, the control of errors across the run's tests (Holm),
every claim that did not run with why and the command that runs it, then one section per claim
with its one-sentence rules and details collapsed. Built from verdict records
(results.records), never from their sentences. Figures are embedded as data URIs; no
scripts, no external URLs: it opens offline and can be mailed as one file."""

from __future__ import annotations

import base64
import html
import math
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bayesmatrix.report.validate import ClaimSection
from bayesmatrix.results.records import FAMILY_ALPHA, VerdictRecord, survives

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;font-size:.88em}
td,th{border:1px solid #ddd;padding:3px 6px;vertical-align:top;text-align:left}
.supported{background:#e6f4ea}.not-supported{background:#fce8e6}
.inconclusive{background:#fef7e0}code{background:#f4f4f4;padding:1px 4px;font-size:.85em}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}.note{color:#666;font-style:italic}
.rule{color:#444;font-size:.9em;margin:.2em 0}.flag{color:#b3261e;font-weight:bold}
details{margin:.4em 0}summary{cursor:pointer;color:#1a4d8f}.num{white-space:nowrap}
"""


def status_class(status: str) -> str:
    return status.replace(" ", "-")


def _img(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(Path(path).name)}" src="data:image/png;base64,{data}">'


def fmt_number(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    magnitude = abs(x)
    if magnitude >= 1e4:
        return f"{x:.3g}"
    return f"{x:.3f}" if magnitude < 100 else f"{x:.1f}"


def key_number(r: VerdictRecord) -> str:
    """The record's key estimate with its interval and the threshold it is judged against,
    as the summary shows it ('0.957 [0.830, 1.000] vs > 0.9')."""
    lo, hi = r.interval
    text = fmt_number(r.estimate)
    if lo is not None or hi is not None:
        text += f" [{fmt_number(lo)}, {fmt_number(hi)}]"
    if r.threshold is not None and r.direction:
        sign = {"above": ">", "below": "<", "within": "±"}[r.direction]
        text += f" vs {sign} {fmt_number(r.threshold)}"
    return text


def _anchor(claim: str) -> str:
    return f"claim-{claim}"


def _flags(r: VerdictRecord, misses: set[str]) -> list[str]:
    flags = []
    if r.rule in misses:
        flags.append("this rule misses a calibration target")
    holds = survives(r)
    if r.status == "not supported" and holds is False:
        flags.append(f"not significant after Holm across the run (p {fmt_number(r.p_adjusted)})")
    return flags


def render_report(
    sections: list[ClaimSection],
    models: list[str],
    settings: dict[str, Any],
    command: str,
    path: str | Path,
) -> Path:
    """Write the report and return its path."""
    records = [r for s in sections for r in s.records]
    counts = Counter(r.status for r in records)
    misses = {rule for s in sections for rule in s.misses}
    profile = str(settings.get("profile", ""))
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<title>bayesmatrix validation report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>bayesmatrix: validating 'The Matrix' (Dalal &amp; Misra) on real models</h1>",
        f"<p>Models: <b>{html.escape(', '.join(models))}</b>; profile <b>{html.escape(profile)}"
        f"</b>; generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.<br>Command: "
        f"<code>{html.escape(command)}</code></p>",
        f"<p><b>{len(records)} verdicts</b>: {counts.get('supported', 0)} supported, "
        f"{counts.get('not supported', 0)} not supported, {counts.get('inconclusive', 0)} "
        "inconclusive. A verdict can come out either way; each states the estimate and 95% "
        "interval it rests on.</p>",
    ]
    if profile == "test":
        parts.append(
            "<p class='note'><b>Test profile:</b> the smallest settings that still check "
            "something. These verdicts show that every claim runs; they are smoke-level, not "
            "evidence (run the quick or full profile for that).</p>"
        )
    parts += _error_control(records)
    parts += _summary(sections, misses)
    not_run = [s for s in sections if s.not_run]
    if not_run:
        parts.append("<h2>Claims that did not run</h2><ul>")
        for s in not_run:
            run = f" Run it with <code>{html.escape(s.command)}</code>." if s.command else ""
            parts.append(
                f"<li><a href='#{_anchor(s.claim)}'>{html.escape(s.claim)}</a>: "
                f"{html.escape(s.not_run)}.{run}</li>"
            )
        parts.append("</ul>")
    for s in sections:
        parts += _section(s, misses)
    parts.append("<h2>Settings of this run's claims</h2><details><summary>show</summary><table>")
    for key, value in settings.items():
        parts.append(f"<tr><td>{html.escape(key)}</td><td>{html.escape(str(value))}</td></tr>")
    parts.append("</table></details></body></html>")
    from bayesmatrix.results.io import write_text

    return write_text(path, "\n".join(parts))


def _error_control(records: list[VerdictRecord]) -> list[str]:
    tests = [r for r in records if r.p_value is not None]
    if not tests:
        return []
    refuted = [r for r in tests if r.status == "not supported"]
    kept = [r for r in refuted if survives(r)]
    return [
        f"<p class='rule'>Errors across the run: {len(tests)} verdicts rest on a test; Holm's "
        f"adjustment over them at a family-wise {FAMILY_ALPHA:.0%}: {len(kept)} of the "
        f"{len(refuted)} 'not supported' that rest on a test survive it (a verdict that does "
        "not is flagged below).</p>"
    ]


def _summary(sections: list[ClaimSection], misses: set[str]) -> list[str]:
    parts = [
        "<h2>Summary</h2><table><tr><th>claim</th><th>verdict</th><th>status</th>"
        "<th>estimate [95% interval] vs threshold</th><th>notes</th></tr>"
    ]
    for s in sections:
        for r in s.records:
            flags = _flags(r, misses)
            note = "; ".join(flags)
            parts.append(
                f"<tr class='{status_class(r.status)}'><td><a href='#{_anchor(s.claim)}'>"
                f"{html.escape(s.claim)}</a></td><td>{html.escape(r.statement)}</td><td>"
                f"{html.escape(r.status)}</td><td class='num'>{html.escape(key_number(r))}</td>"
                f"<td>{'<span class=flag>' + html.escape(note) + '</span>' if note else ''}</td>"
                "</tr>"
            )
        if s.not_run:
            parts.append(
                f"<tr><td><a href='#{_anchor(s.claim)}'>{html.escape(s.claim)}</a></td>"
                f"<td class='note' colspan='4'>did not run: {html.escape(s.not_run)}</td></tr>"
            )
    parts.append("</table>")
    return parts


def _section(s: ClaimSection, misses: set[str]) -> list[str]:
    took = f" ({s.elapsed:.0f} s)" if s.elapsed is not None else ""
    parts = [
        f"<h2 id='{_anchor(s.claim)}'>{html.escape(s.title)} <code>{html.escape(s.claim)}</code>"
        f"{took}</h2>",
        f"<p>{html.escape(s.description)}.</p>" if s.description else "",
    ]
    if s.not_run:
        parts.append(f"<p class='note'>Did not run: {html.escape(s.not_run)}.</p>")
    for rule_id, sentence in s.rules.items():
        missed = rule_id in misses
        flag = " <span class='flag'>(misses a calibration target)</span>" if missed else ""
        text = f"<code>{html.escape(rule_id)}</code>: {html.escape(sentence)}{flag}"
        parts.append(f"<p class='rule'>{text}</p>")
    if s.note:
        parts.append(f"<p class='note'>{html.escape(s.note)}</p>")
    if s.records:
        parts.append("<details><summary>verdicts with their evidence</summary><table>")
        parts.append("<tr><th>status</th><th>verdict</th><th>evidence</th></tr>")
        for r in s.records:
            parts.append(
                f"<tr class='{status_class(r.status)}'><td>{html.escape(r.status)}</td><td>"
                f"{html.escape(r.statement)}</td><td>{html.escape(r.evidence)}</td></tr>"
            )
        parts.append("</table></details>")
    if s.calibration:
        parts.append("<details><summary>how often these rules err</summary><ul>")
        for rule_id, line in s.calibration.items():
            parts.append(f"<li><code>{html.escape(rule_id)}</code>: {html.escape(line)}</li>")
        parts.append("</ul></details>")
    if s.figures:
        parts.append(f"<details open><summary>figures ({len(s.figures)})</summary>")
        for figure, reproduce in s.figures:
            parts.append(_img(figure))
            parts.append(f"<p>Reproduce: <code>{html.escape(reproduce)}</code></p>")
        parts.append("</details>")
    elif s.command and not s.not_run:
        parts.append(f"<p>Reproduce: <code>{html.escape(s.command)}</code></p>")
    return parts
