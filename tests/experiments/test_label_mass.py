"""The shipped tasks' prompts give their label words a real share of the next-token mass
before any demonstration (issue #25's 5% target), on both embedded models; the plain format
of 0.3.0 does not (the artefact the instructed format removes)."""

from __future__ import annotations

import numpy as np
import pytest

from bayesmatrix.experiments.icl.sweep import zero_shot_mass
from bayesmatrix.experiments.icl.tasks import builtin_tasks, get_task
from tests.icl_prompts import prompt_before_last_label

TARGET = 0.05
INPUTS = 12  # the first inputs of each task (benchmarks/label_mass.py reads them all)


@pytest.mark.parametrize("name", builtin_tasks())
def test_instructed_label_words_carry_real_mass(embedded, name):
    task = get_task(name)
    inputs = [x for x, _ in task.examples[:INPUTS]]
    mass = zero_shot_mass(embedded, task, inputs)
    assert mass.mean() >= TARGET, f"{name} on {embedded.name}: {mass.mean():.4f}"
    plain = zero_shot_mass(embedded, task.formatted("plain"), inputs[:4])
    assert plain.mean() < mass.mean()
    # the same mass from a prompt written out by hand and scored separately
    for x in inputs[:2]:
        head = prompt_before_last_label(task, [(x, task.labels[0])])
        words = [" " + task.label_words[y] for y in task.labels]
        ref = embedded.next_token_probs(head, words)["prob"].sum()
        got = zero_shot_mass(embedded, task, [x])[0]
        np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-6)
