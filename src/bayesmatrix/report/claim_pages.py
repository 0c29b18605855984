"""One documentation page per registered claim, written from the registry (title, what it
says, the verdict rule, settings per profile, what a backend must give, the reproducing
command), with a link to the hand-written page of its measured results. The docs site's
build hook (docs/hooks.py) calls `claim_pages`; nothing here is kept on disk."""

from __future__ import annotations

from bayesmatrix.claims.claim import PROFILE_NAMES, Claim
from bayesmatrix.models.backends import BACKENDS, CAPABILITIES

# where each claim's measured results are written up (pages under docs/)
RESULTS = {
    "rows": "capabilities/models.md",
    "prior": "capabilities/theorem2.md",
    "icl": "capabilities/icl.md",
    "martingale": "capabilities/icl.md",
    "martingale-paths": "capabilities/icl.md",
    "coin-flips": "capabilities/icl.md",
    "icl-order": "capabilities/icl.md",
    "continuity": "capabilities/entropy.md",
    "entropy": "capabilities/entropy.md",
    "cot": "capabilities/entropy.md",
    "hallucination": "capabilities/entropy.md",
    "semantic-entropy": "capabilities/entropy.md",
    "geometry": "capabilities/entropy.md",
    "windtunnel": "capabilities/windtunnel.md",
    "matrix": "capabilities/matrix.md",
}


def _value(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return "none" if value is None else str(value)


def claim_markdown(claim: Claim) -> str:
    """The page of one claim, in Markdown (links relative to docs/claims/)."""
    lines = [f"# {claim.title}", "", f"`{claim.name}`: {claim.description}.", ""]
    lines += ["## Verdict rule", ""]
    lines += [f"- {r.sentence() if hasattr(r, 'sentence') else r}" for r in claim.rules]  # type: ignore[union-attr]
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
    if claim.name in RESULTS:
        lines += [f"Measured results, figures and published ones beside them: "
                  f"[{RESULTS[claim.name]}](../{RESULTS[claim.name]})."]  # fmt: skip
    return "\n".join(lines) + "\n"


def claim_pages() -> dict[str, str]:
    """{path under docs/: Markdown} for every registered claim, and an index page."""
    from bayesmatrix.claims.registry import list_claims

    claims = list_claims()
    pages = {f"claims/{c.name}.md": claim_markdown(c) for c in claims}
    index = ["# Claims", "", "Every claim bayesmatrix tests, generated from the registry "
             "(`bayesmatrix claims` prints the same).", "", "| claim | title | needs |",
             "| --- | --- | --- |"]  # fmt: skip
    for c in claims:
        needs = ", ".join(sorted(c.requires)) or "-"
        index.append(f"| [`{c.name}`]({c.name}.md) | {c.title} | {needs} |")
    pages["claims/index.md"] = "\n".join(index) + "\n"
    return pages
