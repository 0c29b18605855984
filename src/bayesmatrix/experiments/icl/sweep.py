"""In-context learning read prequentially from one forward pass (Kossen et al. 2023 style).

One context of N demonstrations (the task's instruction, then "Review: x / Sentiment:
label-word" per demonstration); at every demonstration's label position the LM's
distribution over the task's label words is read from the same pass, so the whole learning
curve costs one forward pass instead of N (lm-evaluation-harness style).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bayesmatrix.bayes.information import entropy
from bayesmatrix.data import PLAIN_TEMPLATE
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.executor import Executor
from bayesmatrix.results.cells import Cell, Cells
from bayesmatrix.results.store import fingerprint

if TYPE_CHECKING:
    from bayesmatrix.experiments.icl.tasks import Task
    from bayesmatrix.models import LanguageModel
    from bayesmatrix.models.loading import Loader

TEMPLATE = PLAIN_TEMPLATE
SEPARATOR = "\n\n"


def render_context(
    demos: Sequence[tuple[str, str]],
    label_words: Mapping[str, str],
    template: str = TEMPLATE,
    separator: str = SEPARATOR,
    instruction: str = "",
) -> tuple[str, list[int], str]:
    """The prompt text (the instruction, when there is one, then the demonstrations), the
    character offset where each demo's label slot starts, and the whitespace that precedes
    label words there (it belongs to the label token)."""
    from bayesmatrix.experiments.icl.tasks import check_template

    try:
        check_template(template)
    except ValueError as exc:
        raise BayesmatrixError(str(exc)) from None
    head = template[: template.index("{label}")]
    lead = head[len(head.rstrip()) :]
    head = head.rstrip()
    parts, cuts, pos = [instruction], [], len(instruction)
    for i, (text, label) in enumerate(demos):
        if label not in label_words:
            raise BayesmatrixError(f"demo {i} has label {label!r} with no label word")
        prefix = (separator if i or instruction else "") + head.format(input=text)
        cuts.append(pos + len(prefix))
        part = prefix + lead + label_words[label]
        parts.append(part)
        pos += len(part)
    return "".join(parts), cuts, lead


def prequential_label_probs(
    lm: LanguageModel,
    demos: Sequence[tuple[str, str]],
    label_words: Mapping[str, str],
    template: str = TEMPLATE,
    separator: str = SEPARATOR,
    instruction: str = "",
) -> pd.DataFrame:
    """One forward pass; per demonstration k (0 = zero-shot) the probability of each label
    word before its label is seen, renormalised over the label set, the raw mass on the label
    set, the entropy (bits) of the renormalised distribution, and whether the argmax is right.
    Multi-token label words are scored teacher-forced on top of the same pass (see
    LanguageModel.continuation_logprobs)."""
    (frame,) = prequential_label_probs_many(
        lm, [demos], label_words, template, separator, instruction
    )
    return frame


def prequential_label_probs_many(
    lm: LanguageModel,
    contexts: Sequence[Sequence[tuple[str, str]]],
    label_words: Mapping[str, str],
    template: str = TEMPLATE,
    separator: str = SEPARATOR,
    instruction: str = "",
) -> list[pd.DataFrame]:
    """prequential_label_probs for several contexts read together (a served model sends their
    requests at once: LanguageModel.continuation_logprobs_many)."""
    words = list(dict.fromkeys(label_words.values()))
    if len(words) != len(label_words):
        raise BayesmatrixError("two labels share one label word; label words must differ")
    names = list(label_words)
    items = [
        _label_requests(lm, demos, label_words, template, separator, instruction)
        for demos in contexts
    ]
    readings = lm.continuation_logprobs_many(items)
    return [
        _label_frame(logp.reshape(len(demos), len(names)), demos, names)
        for logp, demos in zip(readings, contexts, strict=True)
    ]


def _label_requests(
    lm: LanguageModel,
    demos: Sequence[tuple[str, str]],
    label_words: Mapping[str, str],
    template: str,
    separator: str,
    instruction: str,
) -> tuple[list[int], list[tuple[int, list[int]]]]:
    """The context's ids and, per demonstration, one (cut, label word ids) request per label."""
    if not demos:
        raise BayesmatrixError("need at least one demonstration")
    text, cuts, lead = render_context(demos, label_words, template, separator, instruction)
    ids, offsets = lm.encode_offsets(text)
    pieces = {name: lm.encode(lead + word) for name, word in label_words.items()}
    bos = lm.bos_id if lm.adds_bos else None
    shift = 0 if bos is None else 1
    if bos is not None:
        ids = [bos, *ids]
    starts = []
    for k, cut in enumerate(cuts):
        j = next(i for i, (_, end) in enumerate(offsets) if end > cut)
        piece = pieces[demos[k][1]]
        if offsets[j][0] < cut or ids[j + shift : j + shift + len(piece)] != piece:
            raise BayesmatrixError(
                f"demo {k}: the label word {label_words[demos[k][1]]!r} is not tokenised on its "
                "own in context; adjust the template or the label words"
            )
        starts.append(j + shift)
    if starts[0] < 1:
        raise BayesmatrixError("the first label has no context; start the template with text")
    return ids, [(start, pieces[name]) for start in starts for name in label_words]


def _label_frame(
    logp: np.ndarray, demos: Sequence[tuple[str, str]], names: list[str]
) -> pd.DataFrame:
    """The tidy frame of prequential_label_probs from [demos, labels] log-probabilities."""
    p = np.exp(logp)
    mass = p.sum(axis=1)
    renorm = p / mass[:, None]
    truth = [names.index(label) for _, label in demos]
    frame = pd.DataFrame({"k": np.arange(len(demos)), "label": [d[1] for d in demos]})
    for j, name in enumerate(names):
        frame[f"p_{name}"] = renorm[:, j]
    frame["p_true"] = renorm[np.arange(len(demos)), truth]
    frame["label_mass"] = mass
    frame["entropy_bits"] = entropy(renorm, base=2)
    frame["correct"] = renorm.argmax(axis=1) == np.array(truth)
    return frame


def read_task(
    lm: LanguageModel,
    task: Task,
    demos: Sequence[tuple[str, str]],
    label_words: Mapping[str, str],
) -> pd.DataFrame:
    """prequential_label_probs in the task's format: its template, and its instruction naming
    these label words."""
    return read_task_many(lm, task, [demos], label_words)[0]


def read_task_many(
    lm: LanguageModel,
    task: Task,
    contexts: Sequence[Sequence[tuple[str, str]]],
    label_words: Mapping[str, str],
) -> list[pd.DataFrame]:
    """read_task for several contexts read together (prequential_label_probs_many)."""
    instruction = task.instruction_for(dict(label_words))
    return prequential_label_probs_many(
        lm, contexts, label_words, task.template, instruction=instruction
    )


def render_task(
    task: Task, demos: Sequence[tuple[str, str]], label_words: Mapping[str, str]
) -> tuple[str, list[int], str]:
    """render_context in the task's format (see read_task)."""
    instruction = task.instruction_for(dict(label_words))
    return render_context(demos, label_words, task.template, instruction=instruction)


# ---- conditions -------------------------------------------------------------------------------
CONDITIONS = ("regular", "flipped", "sul", "random", "flip-half")
SUL_WORDS = ("foo", "bar", "zip", "cup", "sun", "pen", "map", "jet")


@dataclass(frozen=True)
class Condition:
    """How demonstration labels are shown: which label each demo gets, and the label words.

    regular: true labels. flipped: binary tasks, the other label on a fraction flip_fraction of
    demos (1.0 = all). sul: true labels shown as semantically unrelated words (sul_words).
    random: labels drawn uniformly. flip-half: true labels, then flipped from halfway on.
    """

    name: str
    flip_fraction: float = 1.0
    sul_words: tuple[str, ...] = SUL_WORDS

    def __post_init__(self) -> None:
        if self.name not in CONDITIONS:
            raise BayesmatrixError(
                f"unknown condition '{self.name}'; choose from {', '.join(CONDITIONS)}"
            )
        if not 0 <= self.flip_fraction <= 1:
            raise BayesmatrixError("flip_fraction must be between 0 and 1")

    def label_words(self, task: Task) -> dict[str, str]:
        if self.name != "sul":
            return dict(task.label_words)
        if len(self.sul_words) < len(task.labels):
            raise BayesmatrixError(
                f"task {task.name} has {len(task.labels)} labels but only "
                f"{len(self.sul_words)} unrelated words were given"
            )
        return dict(zip(task.labels, self.sul_words, strict=False))

    def shown_labels(self, task: Task, true: Sequence[str], rng: np.random.Generator) -> list[str]:
        labels = task.labels
        n = len(true)
        if self.name in ("flipped", "flip-half") and not task.binary:
            raise BayesmatrixError(
                f"condition '{self.name}' needs a binary task; {task.name} has {len(labels)} labels"
            )
        other = {labels[0]: labels[1], labels[1]: labels[0]} if task.binary else {}
        if self.name == "flipped":
            flip = np.zeros(n, dtype=bool)
            flip[rng.permutation(n)[: round(self.flip_fraction * n)]] = True
            return [other[y] if f else y for y, f in zip(true, flip, strict=True)]
        if self.name == "flip-half":
            return [y if i < n // 2 else other[y] for i, y in enumerate(true)]
        if self.name == "random":
            return [labels[i] for i in rng.integers(len(labels), size=n)]
        return list(true)

    @property
    def tag(self) -> str:
        """A file-safe identifier, including the flip fraction when it is not 1."""
        if self.name == "flipped" and self.flip_fraction != 1:
            return f"flipped-{self.flip_fraction:g}"
        return self.name


def parse_condition(text: str, sul_words: Sequence[str] = SUL_WORDS) -> Condition:
    """'regular', 'flipped', 'flipped:0.5' (a fraction), 'sul', 'random', 'flip-half'."""
    name, _, arg = text.partition(":")
    if arg and name != "flipped":
        raise BayesmatrixError(f"only 'flipped' takes a fraction ('flipped:0.5'), not '{text}'")
    if len(set(sul_words)) != len(sul_words) or not all(w.strip() for w in sul_words):
        raise BayesmatrixError(f"unrelated label words must be distinct and non-empty: {sul_words}")
    try:
        return Condition(name, float(arg) if arg else 1.0, tuple(sul_words))
    except ValueError as exc:
        raise BayesmatrixError(f"bad condition '{text}': {exc}") from None


# ---- one cell: (model, task, condition, seed) --------------------------------------------------
def zero_shot_probs(
    lm: LanguageModel, task: Task, inputs: Sequence[str], label_words: Mapping[str, str]
) -> np.ndarray:
    """[n, K] zero-shot label distributions (renormalised over the label set), one short prompt
    per input (read together: read_task_many)."""
    first = task.labels[0]
    frames = read_task_many(lm, task, [[(x, first)] for x in inputs], label_words)
    return np.array([[frame.loc[0, f"p_{name}"] for name in task.labels] for frame in frames])


def zero_shot_mass(
    lm: LanguageModel, task: Task, inputs: Sequence[str] | None = None
) -> np.ndarray:
    """[n] raw next-token probability the task's label words carry before any demonstration
    (k = 0), one short prompt per input (default: every input of the task). Where this is
    tiny, a zero-shot distribution renormalised over the label words is the prompt's artefact,
    not the model's prior."""
    first = task.labels[0]
    chosen = [x for x, _ in task.examples] if inputs is None else list(inputs)
    frames = read_task_many(lm, task, [[(x, first)] for x in chosen], task.label_words)
    return np.array([frame.loc[0, "label_mass"] for frame in frames])


def max_shots(
    lm: LanguageModel, task: Task, demos: Sequence[tuple[str, str]], label_words: Mapping[str, str]
) -> int:
    """The largest number of these demonstrations whose context fits the model's window."""
    text, cuts, lead = render_task(task, demos, label_words)
    token_ends = [end for _, end in lm.encode_offsets(text)[1]]
    room = lm.context_length - (1 if lm.adds_bos else 0)
    demo_ends = [
        cut + len(lead) + len(label_words[y]) for cut, (_, y) in zip(cuts, demos, strict=True)
    ]
    return sum(1 for end in demo_ends if np.searchsorted(token_ends, end, side="right") <= room)


def check_cell(task: Task, condition: Condition, shots: int) -> None:
    """Refuse a (task, condition, shots) cell that cannot run, before any model work: shots
    out of range, too few unrelated words, a binary-only condition on a multi-class task."""
    if shots < 1:
        raise BayesmatrixError("shots must be at least 1")
    if shots > len(task.examples):
        raise BayesmatrixError(
            f"{task.name} has {len(task.examples)} examples; ask for at most that many shots"
        )
    condition.label_words(task)
    condition.shown_labels(task, [task.labels[0]], np.random.default_rng(0))


def run_cell(
    lm: LanguageModel, task: Task, condition: Condition, seed: int, shots: int
) -> pd.DataFrame:
    """One seeded context of `shots` demonstrations under a condition; one row per demo k with
    the LM's label distribution before seeing demo k's label (tidy; see README for columns)."""
    check_cell(task, condition, shots)
    rng = np.random.default_rng([seed, 2024])
    order = rng.permutation(len(task.examples))[:shots]
    inputs = [task.examples[i][0] for i in order]
    true = [task.examples[i][1] for i in order]
    shown = condition.shown_labels(task, true, rng)
    words = condition.label_words(task)
    demos = list(zip(inputs, shown, strict=True))
    fits = max_shots(lm, task, demos, words)
    if fits < shots:
        raise BayesmatrixError(
            f"{shots} demonstrations of {task.name} exceed {lm.name}'s window of "
            f"{lm.context_length} tokens; at most {fits} fit"
        )
    frame = read_task(lm, task, demos, words)
    probs = frame[[f"p_{name}" for name in task.labels]].to_numpy()
    zero = zero_shot_probs(lm, task, inputs, words)
    t_idx = np.array([task.labels.index(y) for y in true])
    s_idx = np.array([task.labels.index(y) for y in shown])
    rows = np.arange(shots)
    return pd.DataFrame(
        {
            "model": lm.name,
            "model_params": lm.num_parameters,
            "task": task.name,
            "condition": condition.tag,
            "seed": seed,
            "k": rows,
            "input": inputs,
            "true_label": true,
            "shown_label": shown,
            "label_words": ", ".join(words[name] for name in task.labels),
            "agree": t_idx == s_idx,
            "p_true": probs[rows, t_idx],
            "p_shown": probs[rows, s_idx],
            "zero_shot_p_true": zero[rows, t_idx],
            "zero_shot_p_shown": zero[rows, s_idx],
            "label_mass": frame["label_mass"].to_numpy(),
            "entropy_bits": frame["entropy_bits"].to_numpy(),
            "correct_true": probs.argmax(1) == t_idx,
            "correct_shown": probs.argmax(1) == s_idx,
            "probs": list(probs),
            "true_index": t_idx,
            "shown_index": s_idx,
        }
    )


# ---- sweeps that resume -------------------------------------------------------------------------
# the version of what a cell reads (prompt rendering, label scoring): part of every cell's key,
# raised when a change would give other readings for the same inputs
CELL_VERSION = 1


def cell_key(
    kind: str, model: str, task: Task, condition: Condition, seed: int, identity: str
) -> tuple[str, ...]:
    """The key of one cell under the sweep's `cells/` folder. `kind` names the settings (e.g.
    'shots32'); the key also carries a fingerprint of the model's identity, the task's content
    and the whole condition (unrelated label words, flip fraction), so cells of other inputs
    are never reused."""
    key = fingerprint(
        {
            "kind": kind,
            "cell": CELL_VERSION,
            "model": identity,
            "task": task.digest,
            "condition": asdict(condition),
        }
    )[:12]
    return (kind, model.replace("/", "__"), task.name, f"{condition.tag}-{key}", f"seed{seed}")


def cell_path(
    out: Path, kind: str, model: str, task: Task, condition: Condition, seed: int, identity: str
) -> Path:
    """Where one cell lives (see cell_key); every part is a safe path component."""
    return Cells(Path(out) / "cells").path(cell_key(kind, model, task, condition, seed, identity))


CellFn = Callable[["LanguageModel", "Task", Condition, int], pd.DataFrame]


def run_sweep(
    models: Sequence[str],
    tasks: Sequence[Task],
    conditions: Sequence[Condition],
    seeds: Sequence[int],
    out: str | Path,
    load: Loader,
    cell: CellFn,
    kind: str,
    progress: Callable[[str], None] | None = None,
    executor: Executor | None = None,
    force: bool = False,
) -> pd.DataFrame:
    """Every (model, task, condition, seed) cell, each written to its own Parquet file as it
    finishes (by the driver; see results.Cells), so a killed sweep resumes without redoing or
    losing cells. Missing cells are jobs of `executor` (default: here, in order); a worker
    loads each model once (Loader.kept) and only if one of its cells is missing. A damaged
    cell file is named, or with `force` computed again."""
    kept = load.kept()
    units = []
    for model in models:
        identity = load.identity(model)
        resources = load.resources(model)
        for task in tasks:
            for condition in conditions:
                for seed in seeds:
                    units.append(
                        Cell(
                            cell_key(kind, model, task, condition, seed, identity),
                            f"{model} {task.name} {condition.tag} seed {seed}",
                            _sweep_cell,
                            (kept, model, task, condition, seed, cell),
                            resources,
                        )
                    )
    frames = Cells(Path(out) / "cells", force).map(units, executor, progress)
    return pd.concat(frames, ignore_index=True)


def _sweep_cell(
    load: Loader, model: str, task: Task, condition: Condition, seed: int, cell: CellFn
) -> pd.DataFrame:
    """One cell as a job: the worker's kept model (loaded on its first cell)."""
    return cell(load(model), task, condition, seed)
