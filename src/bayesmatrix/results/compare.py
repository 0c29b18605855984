"""Two runs side by side: the verdicts whose status changed and the estimates that moved
beyond their intervals (the two 95% intervals do not overlap), matched by claim, rule and
statement with each run's model names taken out (so a fine-tune lines up with its base)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from bayesmatrix.results.records import VerdictRecord, load_records

COLUMNS = [
    "claim", "rule", "key", "change", "status_a", "status_b",
    "estimate_a", "lo_a", "hi_a", "estimate_b", "lo_b", "hi_b",
]  # fmt: skip


def verdict_key(r: VerdictRecord) -> str:
    """The record's statement with its model names taken out (whole names only: a model
    called 'lm' leaves 'film' alone): the same verdict on another model has the same key."""
    key = r.statement
    for name in sorted({n.strip() for n in r.model.split(",")}, key=len, reverse=True):
        if name:
            key = re.sub(rf"(?<![\w.:/-]){re.escape(name)}(?![\w:/-])", "{model}", key)
    return key


def number_repeats(frame: pd.DataFrame, by: list[str]) -> pd.Series:
    """`key` with one verdict given several times in a group (e.g. per task) numbered in
    order: ' (#2)', ' (#3)', ..."""
    number = frame.groupby(by).cumcount()
    return frame["key"] + number.map(lambda i: "" if i == 0 else f" (#{i + 1})")


def _keyed(records: list[VerdictRecord]) -> pd.DataFrame:
    """One row per record with its matching key."""
    rows = [
        {"claim": r.claim, "rule": r.rule, "key": verdict_key(r), "status": r.status,
         "estimate": r.estimate, "lo": r.interval[0], "hi": r.interval[1]}
        for r in records
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["claim", "rule", "key", "status", "estimate", "lo", "hi"])
    frame["key"] = number_repeats(frame, ["claim", "rule", "key"])
    return frame


def _disjoint(row: pd.Series) -> bool:
    """Both intervals known and apart."""
    a, b = (row["lo_a"], row["hi_a"]), (row["lo_b"], row["hi_b"])
    if any(pd.isna(x) for x in (*a, *b)):
        return False
    return bool(a[1] < b[0] or b[1] < a[0])


def compare_runs(a: str | Path, b: str | Path, everything: bool = False) -> pd.DataFrame:
    """The verdicts of run `a` against run `b` (folders holding verdicts.json, or the files):
    one row per verdict whose `change` is 'status' (the verdict differs), 'estimate' (same
    verdict, intervals apart), 'only in A' or 'only in B'; with `everything`, the unchanged
    ones too ('same')."""
    left, right = _keyed(load_records(a)), _keyed(load_records(b))
    both = left.merge(
        right, on=["claim", "rule", "key"], how="outer", suffixes=("_a", "_b"), indicator=True
    )

    def change(row: pd.Series) -> str:
        if row["_merge"] == "left_only":
            return "only in A"
        if row["_merge"] == "right_only":
            return "only in B"
        if row["status_a"] != row["status_b"]:
            return "status"
        return "estimate" if _disjoint(row) else "same"

    both["change"] = [change(row) for _, row in both.iterrows()] if len(both) else []
    if not everything:
        both = both[both["change"] != "same"]
    return both[COLUMNS].reset_index(drop=True)
