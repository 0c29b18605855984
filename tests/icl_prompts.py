"""An ICL prompt written out by hand from a task's fields (instruction, template, label
words), independently of the library's renderer: the tests read the model on it separately."""

from __future__ import annotations


def prompt_before_last_label(task, demos, label_words=None) -> str:
    """The task's instruction and demonstrations joined by blank lines, cut just before the
    last demonstration's label word (the text whose next token is that label)."""
    words = label_words or task.label_words
    names = list(dict.fromkeys(words.values()))
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    blocks = [task.instruction.replace("{labels}", listed)] if task.instruction else []
    for x, y in demos[:-1]:
        blocks.append(task.template.replace("{input}", x).replace("{label}", words[y]))
    head = task.template[: task.template.index("{label}")].replace("{input}", demos[-1][0])
    blocks.append(head.rstrip())
    return "\n\n".join(blocks)
