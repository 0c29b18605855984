"""Task files: the shipped tasks are valid; bad files fail with file and line."""

from __future__ import annotations

import json

import pytest

from bayesmatrix import BayesmatrixError
from bayesmatrix.experiments.icl.tasks import builtin_tasks, get_task, load_task

HEADER = {"name": "t", "labels": {"a": "yes", "b": "no"}}


def write(tmp_path, lines):
    path = tmp_path / "task.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines))
    return path


def test_shipped_tasks_are_valid_and_large_enough():
    names = builtin_tasks()
    assert len(names) >= 6
    sizes = {}
    for name in names:
        task = get_task(name)
        sizes[name] = len(task.examples)
        assert len(task.examples) >= 100
        counts = {label: sum(y == label for _, y in task.examples) for label in task.labels}
        assert min(counts.values()) >= 15, (name, counts)
        assert len({x for x, _ in task.examples}) == len(task.examples), f"{name} has duplicates"
    assert any(get_task(n).binary for n in names) and any(not get_task(n).binary for n in names)


def test_user_file_round_trip(tmp_path):
    path = write(tmp_path, [HEADER, {"input": "x", "label": "a"}, {"input": "y", "label": "b"}])
    task = get_task(path)
    assert task.labels == ["a", "b"] and task.examples == (("x", "a"), ("y", "b"))


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "is empty"),
        ([HEADER], "no examples"),
        ([HEADER, "{not json"], "line 2: not valid JSON"),
        ([HEADER, {"input": "x", "label": "c"}], "line 2: label 'c' is not one of"),
        ([HEADER, {"input": "x"}], "line 2: label: Field required"),
        (
            [{"name": "t", "labels": {"a": "yes", "b": ""}}, {"input": "x", "label": "a"}],
            "line 1: .*no label word",
        ),
        (
            [{"name": "t", "labels": {"a": "yes", "b": "yes"}}, {"input": "x", "label": "a"}],
            "line 1: .*label words must differ",
        ),
        ([{"name": "t", "labels": {"a": "yes"}}, {"input": "x", "label": "a"}], "at least 2"),
        ([{**HEADER, "template": "{label} {input}"}, {"input": "x", "label": "a"}], "end with"),
        ([HEADER, {"input": "x", "label": "a"}], "labels \\['b'\\] have no examples"),
    ],
)
def test_bad_task_files(tmp_path, lines, message):
    with pytest.raises(BayesmatrixError, match=message):
        load_task(write(tmp_path, lines))


def test_unknown_task_name():
    with pytest.raises(BayesmatrixError, match="shipped tasks are"):
        get_task("no-such-task")
