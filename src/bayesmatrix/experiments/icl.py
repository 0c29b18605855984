"""In-context learning read prequentially from one forward pass (Kossen et al. 2023 style).

One context of N demonstrations "Input: x / Output: label-word"; at every demonstration's label
position the LM's distribution over the task's label words is read from the same pass, so the
whole learning curve costs one forward pass instead of N (lm-evaluation-harness style).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bayesmatrix.errors import BayesmatrixError

if TYPE_CHECKING:
    from bayesmatrix.models import LanguageModel

TEMPLATE = "Input: {input}\nOutput: {label}"
SEPARATOR = "\n\n"


def render_context(
    demos: Sequence[tuple[str, str]],
    label_words: Mapping[str, str],
    template: str = TEMPLATE,
    separator: str = SEPARATOR,
) -> tuple[str, list[int], str]:
    """The prompt text, the character offset where each demo's label slot starts, and the
    whitespace that precedes label words there (it belongs to the label token)."""
    if "{input}" not in template or not template.rstrip().endswith("{label}"):
        raise BayesmatrixError("template must contain {input} and end with {label}")
    head = template[: template.index("{label}")]
    lead = head[len(head.rstrip()) :]
    head = head.rstrip()
    parts, cuts, pos = [], [], 0
    for i, (text, label) in enumerate(demos):
        if label not in label_words:
            raise BayesmatrixError(f"demo {i} has label {label!r} with no label word")
        prefix = (separator if i else "") + head.format(input=text)
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
) -> pd.DataFrame:
    """One forward pass; per demonstration k (0 = zero-shot) the probability of each label
    word before its label is seen, renormalised over the label set, the raw mass on the label
    set, the entropy (bits) of the renormalised distribution, and whether the argmax is right.
    Label words must be single tokens in context (checked)."""
    if not demos:
        raise BayesmatrixError("need at least one demonstration")
    words = list(dict.fromkeys(label_words.values()))
    if len(words) != len(label_words):
        raise BayesmatrixError("two labels share one label word; label words must differ")
    text, cuts, lead = render_context(demos, label_words, template, separator)
    enc = lm.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = list(enc.input_ids), list(enc.offset_mapping)
    cand = {}
    for name, word in label_words.items():
        piece = lm.tokenizer(lead + word, add_special_tokens=False).input_ids
        if len(piece) != 1:
            raise BayesmatrixError(
                f"label word {word!r} is {len(piece)} tokens for {lm.name}; use single-token "
                "label words (multi-token scoring is not implemented yet)"
            )
        cand[name] = piece[0]
    shift = 1 if lm.adds_bos else 0
    if shift:
        ids = [lm.bos_id, *ids]
    positions = []
    for k, cut in enumerate(cuts):
        j = next(i for i, (_, end) in enumerate(offsets) if end > cut)
        if offsets[j][0] < cut or ids[j + shift] != cand[demos[k][1]]:
            raise BayesmatrixError(
                f"demo {k}: the label word does not start a token in context; adjust the template"
            )
        positions.append(j + shift - 1)
    if positions[0] < 0:
        raise BayesmatrixError("the first label has no context; start the template with text")
    names = list(label_words)
    logp = lm.logprobs_at(ids, positions, [cand[n] for n in names])
    p = np.exp(logp)
    mass = p.sum(axis=1)
    renorm = p / mass[:, None]
    truth = [names.index(label) for _, label in demos]
    frame = pd.DataFrame({"k": np.arange(len(demos)), "label": [d[1] for d in demos]})
    for j, name in enumerate(names):
        frame[f"p_{name}"] = renorm[:, j]
    frame["p_true"] = renorm[np.arange(len(demos)), truth]
    frame["label_mass"] = mass
    frame["entropy_bits"] = -(renorm * np.log2(np.clip(renorm, 1e-300, 1))).sum(axis=1)
    frame["correct"] = renorm.argmax(axis=1) == np.array(truth)
    return frame
