"""A 32-shot ICL sweep (3 conditions x 5 seeds, sentiment) on smollm2-135m: the single-pass
prequential measurement against harness-style separate prompts (one forward pass per k,
reading the label words at the prompt's end), side by side in one run.

Claims: identical label probabilities to 1e-4 and the single pass >= 10x faster.
Run: .venv/bin/python benchmarks/icl_single_pass.py
"""

from __future__ import annotations

import time

import numpy as np

import bayesmatrix
from bayesmatrix.experiments.icl.sweep import Condition, prequential_label_probs, render_context
from bayesmatrix.experiments.icl.tasks import get_task


def separate_prompts(
    lm: bayesmatrix.LanguageModel, demos: list, words: dict, labels: list
) -> np.ndarray:
    """One k-shot prompt per k; the label distribution is read from its last row."""
    cand = [lm.tokenizer(" " + words[y], add_special_tokens=False).input_ids[0] for y in labels]
    out = []
    for k in range(len(demos)):
        text, _, _ = render_context(demos[: k + 1], words)
        head = text[: text.rindex("Output:") + len("Output:")]
        ids, _ = lm.tokenize(head)
        p = np.exp(lm.continuation_logprobs(ids, [(len(ids), [c]) for c in cand]))
        out.append(p / p.sum())
    return np.asarray(out)


def sweep_cells(shots: int = 32, seeds: int = 5) -> list[tuple[list, dict]]:
    """The sweep's contexts: (demonstrations, label words) for 3 conditions x `seeds` seeds,
    ordered as run_cell orders them."""
    task = get_task("sentiment")
    cells = []
    for name in ("regular", "flipped", "sul"):
        cond = Condition(name)
        for seed in range(seeds):
            rng = np.random.default_rng([seed, 2024])
            order = rng.permutation(len(task.examples))[:shots]
            true = [task.examples[i][1] for i in order]
            shown = cond.shown_labels(task, true, rng)
            demos = [(task.examples[i][0], y) for i, y in zip(order, shown, strict=True)]
            cells.append((demos, cond.label_words(task)))
    return cells


def main() -> None:
    lm = bayesmatrix.load("smollm2-135m")
    cells = sweep_cells()
    labels = get_task("sentiment").labels
    start = time.perf_counter()
    single = [
        prequential_label_probs(lm, d, w)[[f"p_{y}" for y in labels]].to_numpy() for d, w in cells
    ]
    t_single = time.perf_counter() - start
    start = time.perf_counter()
    separate = [separate_prompts(lm, d, w, labels) for d, w in cells]
    t_separate = time.perf_counter() - start
    diff = max(float(np.abs(a - b).max()) for a, b in zip(single, separate, strict=True))
    print(f"sweep: 3 conditions x 5 seeds x 32 shots = {32 * len(cells)} label readings")
    print(f"  single pass      : {t_single:7.2f} s ({len(cells)} forward passes)")
    print(f"  separate prompts : {t_separate:7.2f} s ({32 * len(cells)} forward passes)")
    print(
        f"  speed-up {t_separate / t_single:.1f}x (target >= 10x); max |difference| in label "
        f"probabilities {diff:.2e} (target <= 1e-4): {'OK' if diff <= 1e-4 else 'MISMATCH'}"
    )


if __name__ == "__main__":
    main()
