"""Verdicts as data: one record per verdict, the single source of every verdict a run shows.

A record holds what a verdict is about (claim, rule, model and its canonical identity and
parameter count, profile and settings), what it says (status, the key quantity's estimate and
95% interval, the threshold and the side of it the claim is on, a test's p-value, level and
the p-value adjusted for the run's other tests), how far to trust the rule (its error rates
measured on learners by construction at that profile), and where it came from (claim version,
bayesmatrix version, seeds, elapsed seconds). The sentence and the evidence in words are
generated from the record and never parsed back.

Files: `verdicts.json` (a list of records) and `verdicts.parquet` (one row per record, the
interval as `lo`/`hi`), both checked against the shipped JSON Schema (data/verdict.schema.json,
versioned) when written and when read; `read_verdicts(path)` returns a DataFrame with an
`interval` column of [lo, hi] pairs. Holm's step-down adjustment across the tests of a run
controls its family-wise error (`adjust`): a 'not supported' that does not survive it says so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.results.io import DamagedResultError, read_json, write_json, write_parquet
from bayesmatrix.results.verdicts import Verdict

SCHEMA_VERSION = 1
FAMILY_ALPHA = 0.05  # Holm's family-wise level over the tests of one run


@dataclass(frozen=True)
class VerdictRecord:
    """One verdict as data (see the module docstring). Missing numbers are None."""

    claim: str
    rule: str
    model: str
    status: str
    estimate: float | None
    interval: list[float | None]
    statement: str
    evidence: str
    quantity: str = ""
    threshold: float | None = None
    direction: str = ""
    p_value: float | None = None
    alpha: float | None = None
    p_adjusted: float | None = None
    model_id: str = ""
    parameters: int | None = None
    profile: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)
    claim_version: int = 1
    bayesmatrix_version: str = ""
    seeds: list[int] = field(default_factory=list)
    elapsed: float | None = None
    schema: int = SCHEMA_VERSION

    @property
    def sentence(self) -> str:
        """The verdict in words, generated from the record."""
        return f"[{self.status}] {self.statement}: {self.evidence}"

    def to_json(self) -> dict[str, Any]:
        return _clean(asdict(self))

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> VerdictRecord:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in body.items() if k in names})


def _number(x: Any) -> float | None:
    """A finite float, or None (JSON has no NaN)."""
    if x is None:
        return None
    value = float(x)
    return value if math.isfinite(value) else None


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities as None, numpy scalars as Python ones, tuples as lists."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def record(
    verdict: Verdict,
    claim: str,
    *,
    model_id: str = "",
    parameters: int | None = None,
    profile: str = "",
    settings: Mapping[str, Any] | None = None,
    calibration: Mapping[str, Any] | None = None,
    claim_version: int = 1,
    seeds: Sequence[int] = (),
    elapsed: float | None = None,
) -> VerdictRecord:
    """The record of a verdict in a run of a claim."""
    from bayesmatrix._version import __version__

    rule = verdict.rule or f"{claim}.verdict"
    return VerdictRecord(
        claim=claim,
        rule=rule,
        model=verdict.subject,
        status=verdict.status,
        estimate=_number(verdict.estimate),
        interval=[_number(verdict.lo), _number(verdict.hi)],
        statement=verdict.statement,
        evidence=verdict.evidence,
        quantity=verdict.quantity,
        threshold=_number(verdict.threshold),
        direction=verdict.direction,
        p_value=_number(verdict.p_value),
        alpha=_number(verdict.alpha),
        model_id=model_id,
        parameters=int(parameters) if parameters else None,
        profile=profile,
        settings=_clean(dict(settings or {})),
        calibration=_clean(dict(calibration or {})),
        claim_version=int(claim_version),
        bayesmatrix_version=__version__,
        seeds=[int(s) for s in seeds],
        elapsed=_number(elapsed),
    )


def adjust(records: Sequence[VerdictRecord], alpha: float = FAMILY_ALPHA) -> list[VerdictRecord]:
    """Holm's step-down adjusted p-values over the records that carry a p-value (the tests of
    one run); the others unchanged. Family-wise error at `alpha` is controlled by comparing
    each adjusted p-value with `alpha`."""
    p = {i: r.p_value for i, r in enumerate(records) if r.p_value is not None}
    tested = sorted(p, key=p.__getitem__)
    m = len(tested)
    adjusted: dict[int, float] = {}
    running = 0.0
    for rank, i in enumerate(tested):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return [replace(r, p_adjusted=adjusted.get(i)) for i, r in enumerate(records)]


def survives(r: VerdictRecord, alpha: float = FAMILY_ALPHA) -> bool | None:
    """Whether a refuting test survives Holm's adjustment over its run (None: no test)."""
    if r.p_adjusted is None:
        return None
    return r.p_adjusted < alpha


@cache
def schema() -> dict[str, Any]:
    """The shipped JSON Schema of a record (data/verdict.schema.json)."""
    path = files("bayesmatrix.data").joinpath("verdict.schema.json")
    return json.loads(path.read_text(encoding="utf-8"))


def validate(bodies: Iterable[Mapping[str, Any]], where: str = "records") -> None:
    """Raise (naming the first bad field) unless every record body fits the schema."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    for i, body in enumerate(bodies):
        error = next(iter(validator.iter_errors(body)), None)
        if error is not None:
            path = "/".join(map(str, error.absolute_path)) or "(record)"
            raise DamagedResultError(f"{where}: record {i}, {path}: {error.message}")


def write_verdicts(folder: str | Path, records: Sequence[VerdictRecord]) -> Path:
    """verdicts.json and verdicts.parquet in `folder`, checked against the schema first."""
    import pandas as pd

    bodies = [r.to_json() for r in records]
    validate(bodies, "verdicts to write")
    out = Path(folder)
    write_json(out / "verdicts.json", bodies)
    rows = []
    for b in bodies:
        lo, hi = b["interval"]
        rows.append({**{k: v for k, v in b.items() if k not in ("interval", "settings",
                                                                "calibration", "seeds")},
                     "lo": lo, "hi": hi, "settings": json.dumps(b["settings"], sort_keys=True),
                     "calibration": json.dumps(b["calibration"], sort_keys=True),
                     "seeds": json.dumps(b["seeds"])})  # fmt: skip
    write_parquet(pd.DataFrame(rows, columns=_COLUMNS), out / "verdicts.parquet")
    return out / "verdicts.json"


_COLUMNS = [
    *(f.name for f in fields(VerdictRecord) if f.name != "interval"),
    "lo",
    "hi",
]


def load_records(path: str | Path) -> list[VerdictRecord]:
    """The records of a verdicts.json (or of the folder holding one), schema-checked."""
    src = Path(path)
    if src.is_dir():
        src = src / "verdicts.json"
    if not src.is_file():
        raise BayesmatrixError(f"no verdicts.json at {path}; pass a run's folder or its file")
    bodies = read_json(src)
    if not isinstance(bodies, list):
        raise DamagedResultError(f"{src} holds no list of verdict records")
    validate(bodies, str(src))
    return [VerdictRecord.from_json(b) for b in bodies]


def read_verdicts(path: str | Path) -> Any:
    """A run's verdicts as a DataFrame, one row per record (see the module docstring)."""
    import pandas as pd

    records = load_records(path)
    frame = pd.DataFrame([r.to_json() for r in records])
    if frame.empty:
        frame = pd.DataFrame(columns=[f.name for f in fields(VerdictRecord)])
    frame["sentence"] = [r.sentence for r in records]
    return frame
