"""In-context learning task files: a documented JSONL format, validated on load.

Line 1 is the header, every further line one example:

    {"name": "sentiment", "description": "...",
     "instruction": "Classify the sentiment of each review as {labels}.",
     "template": "Review: {input}\\nSentiment: {label}",
     "labels": {"positive": "positive", "negative": "negative"}}
    {"input": "I loved this film", "label": "positive"}

`labels` maps each label name to the word the model is asked to produce (its label word).
The template must contain {input} and end with {label}. `instruction` (optional) is a line
before the demonstrations; its `{labels}` names the label words in use ("positive or
negative"; under unrelated labels, those words). Without an instruction and with a bare
template, the label words carry almost none of a small model's next-token mass before any
demonstration, so a zero-shot "prior" renormalised over them is manufactured (see
`FORMATS`). Errors cite the file and line.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, replace
from importlib.resources import files
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from bayesmatrix.data import PLAIN_TEMPLATE, read_jsonl
from bayesmatrix.errors import BayesmatrixError

DEFAULT_TEMPLATE = PLAIN_TEMPLATE
MAX_LABELS = 50
# how a task is put to the model: its own instruction and template, or the bare format of
# bayesmatrix 0.3.0 and of Wei et al. (2023) (no instruction, "Input: ...\nOutput: ...")
FORMATS = ("instructed", "plain")


def label_list(words: list[str]) -> str:
    """Label words as an instruction names them: 'a or b', 'a, b or c'."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _parsed(text: str, what: str) -> list[tuple[str, str | None, str | None, str | None]]:
    """str.format's reading of a template or instruction; a malformed one is one clear error."""
    import string

    try:
        return list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(
            f"{what} is malformed ({exc}); write a literal brace as {{{{ or }}}}"
        ) from None


def check_instruction(instruction: str) -> None:
    """An instruction uses no field but {labels} (plain), so that it means what it says."""
    for _, field, spec, conversion in _parsed(instruction, "instruction"):
        if field is not None and (field != "labels" or spec or conversion):
            raise ValueError(
                "instruction may only use the field {labels} (the label words), as it is; "
                "write a literal brace as {{ or }}"
            )


def check_template(template: str) -> None:
    """A template uses exactly the plain fields {input} (at least once) and {label} (once, at
    the end): no attributes, indices, conversions or format specs ('{input.__class__}',
    '{input[0]}', '{input!r}', '{input:>9}'), so it means what it says."""
    fields = []
    for _, field, spec, conversion in _parsed(template, "template"):
        if field is None:
            continue
        if field not in ("input", "label") or spec or conversion:
            shown = (
                "{"
                + field
                + (f"!{conversion}" if conversion else "")
                + (f":{spec}" if spec else "")
                + "}"
            )
            raise ValueError(
                f"template may only use the fields {{input}} and {{label}}, as they are, not "
                f"{shown}; write a literal brace as {{{{ or }}}}"
            )
        fields.append(field)
    if (
        "input" not in fields
        or fields.count("label") != 1
        or not template.rstrip().endswith("{label}")
    ):
        raise ValueError("template must contain {input} and end with {label} (once)")


class _Header(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    instruction: str = ""
    template: str = DEFAULT_TEMPLATE
    labels: dict[str, str]

    @field_validator("instruction")
    @classmethod
    def _instruction(cls, value: str) -> str:
        check_instruction(value)
        return value

    @field_validator("template")
    @classmethod
    def _template(cls, value: str) -> str:
        check_template(value)
        return value

    @model_validator(mode="after")
    def _labels(self) -> _Header:
        if not 2 <= len(self.labels) <= MAX_LABELS:
            raise ValueError(
                f"a task needs at least 2 labels and at most {MAX_LABELS}, not {len(self.labels)} "
                "(each label word is scored at every demonstration)"
            )
        empty = [k for k, w in self.labels.items() if not w.strip()]
        if empty:
            raise ValueError(f"labels {empty} have no label word")
        words = list(self.labels.values())
        dupes = sorted({w for w in words if words.count(w) > 1})
        if dupes:
            raise ValueError(f"label words must differ; {dupes} is used for several labels")
        return self


class _Example(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: str
    label: str


@dataclass(frozen=True)
class Task:
    """A validated task: label names in order, their words, and (input, label) examples."""

    name: str
    description: str
    template: str
    label_words: dict[str, str]
    examples: tuple[tuple[str, str], ...]
    # where the file was read from: not part of any result's fingerprint (a result does not
    # depend on where the package is installed)
    source: str = dataclasses.field(compare=False, metadata={"digest": False})
    instruction: str = ""

    @property
    def labels(self) -> list[str]:
        return list(self.label_words)

    @property
    def binary(self) -> bool:
        return len(self.label_words) == 2

    @property
    def digest(self) -> str:
        """A hash of everything the task asks the model (not where it was read from)."""
        from bayesmatrix.results.store import text_digest

        content = [self.name, self.template, self.label_words, self.examples]
        if self.instruction:  # a task without one keeps the digest it always had
            content.append(self.instruction)
        return text_digest(json.dumps(content, ensure_ascii=False))

    def formatted(self, fmt: str) -> Task:
        """This task put to the model in a format: 'instructed' (its own instruction and
        template) or 'plain' (no instruction, "Input: ...\nOutput: ...")."""
        if fmt not in FORMATS:
            raise BayesmatrixError(f"unknown format '{fmt}'; choose from {', '.join(FORMATS)}")
        if fmt == "instructed":
            return self
        return replace(self, template=DEFAULT_TEMPLATE, instruction="")

    def instruction_for(self, label_words: dict[str, str]) -> str:
        """The instruction with {labels} naming these label words ('' when it has none)."""
        return self.instruction.format(labels=label_list(list(label_words.values())))


def _fail(path: Path | str, line: int, message: str) -> BayesmatrixError:
    return BayesmatrixError(f"{path}, line {line}: {message}")


def load_task(path: str | Path) -> Task:
    """Read and validate a task file (see the module docstring for the format)."""
    src = Path(path)
    parsed = read_jsonl(src, "task file")
    if not parsed:
        raise BayesmatrixError(f"{src} is empty; it needs a header line and examples")
    try:
        header = _Header.model_validate(parsed[0][1])
    except ValidationError as exc:
        raise _fail(src, parsed[0][0], _pydantic_message(exc)) from None
    examples = []
    for number, record in parsed[1:]:
        try:
            example = _Example.model_validate(record)
        except ValidationError as exc:
            raise _fail(src, number, _pydantic_message(exc)) from None
        if example.label not in header.labels:
            raise _fail(src, number, f"label {example.label!r} is not one of {list(header.labels)}")
        examples.append((example.input, example.label))
    if not examples:
        raise BayesmatrixError(f"{src} has a header but no examples")
    missing = [k for k in header.labels if all(y != k for _, y in examples)]
    if missing:
        raise BayesmatrixError(f"{src}: labels {missing} have no examples")
    return Task(
        header.name,
        header.description,
        header.template,
        dict(header.labels),
        tuple(examples),
        str(src),
        header.instruction,
    )


def _pydantic_message(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    )


def builtin_tasks() -> list[str]:
    """Names of the tasks shipped with bayesmatrix."""
    folder = files("bayesmatrix.data").joinpath("tasks")
    return sorted(
        p.name.removesuffix(".jsonl") for p in folder.iterdir() if p.name.endswith(".jsonl")
    )


def get_task(name_or_path: str | Path) -> Task:
    """A shipped task by name, or a task file by path."""
    ref = str(name_or_path)
    if ref in builtin_tasks():
        return load_task(Path(str(files("bayesmatrix.data").joinpath("tasks", ref + ".jsonl"))))
    if Path(ref).suffix == ".jsonl" or Path(ref).exists():
        return load_task(ref)
    raise BayesmatrixError(
        f"unknown task '{ref}'; shipped tasks are {', '.join(builtin_tasks())}, or pass a .jsonl"
    )
