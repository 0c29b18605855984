"""One documentation page per registered claim, written from the registry (title, what it
says, the verdict rule, settings per profile, the measured time per profile, what a backend
must give, the reproducing command), with an example result (its verdicts and first figure
from a run of the test profile) and a link to the hand-written page of its measured results
(Claim.results_page). The docs site's build hook (docs/hooks.py) calls `claim_pages`; nothing
here is kept on disk."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bayesmatrix.claims.claim import PROFILE_NAMES, Claim
from bayesmatrix.models.backends import BACKENDS, CAPABILITIES
from bayesmatrix.results.records import VerdictRecord, load_records
from bayesmatrix.results.times import claim_seconds


def _value(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return "none" if value is None else str(value)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def claim_markdown(
    claim: Claim, records: Sequence[VerdictRecord] = (), figure: str | None = None
) -> str:
    """The page of one claim, in Markdown (links relative to docs/claims/); `records` and
    `figure` (a path relative to the page): its example result, when there is one."""
    lines = [f"# {claim.title}", "", f"`{claim.name}`: {claim.description}.", ""]
    lines += ["## Verdict rule", ""]
    lines += [f"- {r.sentence() if hasattr(r, 'sentence') else r}" for r in claim.rules]
    lines += [
        "",
        "A verdict is *supported*, *not supported* or *inconclusive*, and names the evidence "
        "that carries it ([what a verdict means](../concepts.md#verdicts)).",
        "",
        "## Settings",
        "",
    ]
    profiles = [p for p in PROFILE_NAMES if p in claim.profiles]
    if claim.settings:
        lines.append("| setting | meaning | " + " | ".join(profiles) + " |")
        lines.append("| --- | --- | " + " | ".join("---" for _ in profiles) + " |")
        for key, setting in claim.settings.items():
            cells = [_value(claim.profiles[p][key]) for p in profiles]
            lines.append(f"| `{key}` | {setting.help} | " + " | ".join(cells) + " |")
    else:
        lines.append("No settings.")
    missing = [p for p in PROFILE_NAMES if p not in claim.profiles]
    if missing:
        lines += ["", f"Not run in the {' and '.join(missing)} profile(s)."]
    times = {p: claim_seconds(claim.name, p) for p in profiles}
    measured = [f"{p} {_duration(t)}" for p, t in times.items() if t is not None]
    if measured:
        lines += ["", "Time on SmolLM2-135M, 2 CPU cores (benchmarks/claim_times.py): "
                  + ", ".join(measured) + "."]  # fmt: skip
    lines += ["", "## What a backend must give", ""]
    if claim.requires:
        lines += [f"- `{c}`: {CAPABILITIES[c]}" for c in sorted(claim.requires)]
        able = [b.name for b in BACKENDS if claim.requires <= b.capabilities]
        lines += ["", f"Backends that give it: {', '.join(able)}."]
    else:
        lines.append("Nothing: it trains and reads its own models.")
    profile = "quick" if "quick" in claim.profiles else profiles[-1]
    command = claim.reproduce(["smollm2-135m"], profile, claim.profiles[profile])
    lines += ["", "## Run it", "", "```bash", command, "```", ""]
    if records or figure:
        lines += ["## Example result", "",
                  "From `bayesmatrix validate --profile test` on smollm2-135m (the smallest "
                  "settings that still check something: smoke-level, not evidence), made when "
                  "this site was built:", ""]  # fmt: skip
        lines += [f"- {r.sentence}" for r in records]
        if figure:
            lines += ["", f"![{claim.name}, test profile]({figure})"]
        lines.append("")
    if claim.results_page:
        lines += [f"Measured results, figures and published ones beside them: "
                  f"[{claim.results_page}](../{claim.results_page})."]  # fmt: skip
    return "\n".join(lines) + "\n"


def claim_pages(example: Path | None = None) -> dict[str, str | bytes]:
    """{path under docs/: Markdown (or a figure's bytes)} for every registered claim, and an
    index page. `example`: the folder of a `validate --profile test` run whose verdicts and
    first figures the pages show."""
    from bayesmatrix.claims.registry import list_claims

    claims = list_claims()
    records = load_records(example) if example is not None else []
    pages: dict[str, str | bytes] = {}
    for c in claims:
        figures = sorted((example / "test" / c.name).glob("*.png")) if example else []
        figure = None
        if figures:
            figure = f"{c.name}-example.png"
            pages[f"claims/{figure}"] = figures[0].read_bytes()
        mine = [r for r in records if r.claim == c.name]
        pages[f"claims/{c.name}.md"] = claim_markdown(c, mine, figure)
    index = ["# Claims", "", "Every claim bayesmatrix tests, generated from the registry "
             "(`bayesmatrix claims` prints the same).", "", "| claim | title | needs |",
             "| --- | --- | --- |"]  # fmt: skip
    for c in claims:
        needs = ", ".join(sorted(c.requires)) or "-"
        index.append(f"| [`{c.name}`]({c.name}.md) | {c.title} | {needs} |")
    pages["claims/index.md"] = "\n".join(index) + "\n"
    return pages
