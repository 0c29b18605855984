"""Question sets shipped with bayesmatrix (or supplied by the user) and their prompt formats.

facts.jsonl: {"question", "answer", "context"} per line: factual questions with a sentence that
a retriever would supply. cot.jsonl: {"question", "steps", "answer"}: multi-step problems with
their intermediate steps. Both are validated on load; errors cite file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from bayesmatrix.data import read_jsonl
from bayesmatrix.errors import BayesmatrixError


@dataclass(frozen=True)
class Fact:
    question: str
    answer: str
    context: str


@dataclass(frozen=True)
class Problem:
    question: str
    steps: str
    answer: str


def qa_prompt(question: str, context: str | None = None) -> str:
    """'Question: ...\\nAnswer:' with an optional retrieved fact before it."""
    head = f"{context}\n" if context else ""
    return f"{head}Question: {question}\nAnswer:"


def cot_prompt(problem: Problem, with_steps: bool) -> str:
    """The problem, optionally its steps, then 'The answer is' right before the answer."""
    steps = f" {problem.steps}" if with_steps else ""
    return f"Question: {problem.question}\nAnswer:{steps} The answer is"


def _read(path: Path | str, fields: tuple[str, ...]) -> list[dict[str, str]]:
    src = Path(str(path))
    records = []
    for number, record in read_jsonl(src, "question file"):
        if not isinstance(record, dict):
            raise BayesmatrixError(f"{src}, line {number}: expected a JSON object")
        missing = [f for f in fields if not isinstance(record.get(f), str) or not record[f].strip()]
        if missing:
            raise BayesmatrixError(f"{src}, line {number}: missing or empty {missing}")
        records.append(record)
    if not records:
        raise BayesmatrixError(f"{src} has no questions")
    return records


def _shipped(name: str) -> Path:
    return Path(str(files("bayesmatrix.data").joinpath("questions", name)))


def load_facts(path: str | Path | None = None) -> list[Fact]:
    """Factual questions with answers and a supporting sentence (default: shipped set)."""
    fields = ("question", "answer", "context")
    return [
        Fact(r["question"], r["answer"], r["context"])
        for r in _read(path or _shipped("facts.jsonl"), fields)
    ]


def load_problems(path: str | Path | None = None) -> list[Problem]:
    """Multi-step problems with steps and answers (default: shipped set)."""
    fields = ("question", "steps", "answer")
    return [
        Problem(r["question"], r["steps"], r["answer"])
        for r in _read(path or _shipped("cot.jsonl"), fields)
    ]
