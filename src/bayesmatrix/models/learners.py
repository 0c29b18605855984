"""Learners by construction behind the LanguageModel interface: the claims read them through
the very prompts and code paths they use for an LM, so how often a verdict rule errs can be
measured on learners whose nature is known (docs/guides/verdict-calibration.md).

Reference: `learner:KIND[?key=value&...]`, KIND one of
- `bayesian`: the exact Bayesian learner. On an ICL task it holds a Beta(kappa m, kappa
  (1 - m)) belief that a shown label is the true one, m its prior for the input asked about,
  and predicts the true label of the next input with its posterior mean, the rest spread
  evenly over the other labels (the Beta-Bernoulli learner the `icl` analysis fits); on coin
  flips (no known input) a Dirichlet(kappa/K, ...) over the outcomes: Beta(1, 1) at kappa = 2.
- `recency`: the same counts over the last `window` observations only (forgets).
- `discount`: the counts weighted by decay^(age) (forgets smoothly; decay 1 is bayesian).
- `ignorer`: its prior, whatever the demonstrations (a fixed-prior ignorer).
Keys (models.learner_spec.KEYS): kappa (2), prior (0.7), prior_spread (0: the standard
deviation of the per-input prior on the logit scale, each input's drawn from the seed and the
input's text, as an LM's zero-shot probabilities differ between inputs), window (4), decay
(0.8), noise (0: the standard deviation of Gaussian noise added to the logit of each reading,
drawn from the seed and the context read, so a reading is the same whenever it is read, as an
LM's is), seed (0), tokenizer (smollm2-135m: whose tokenizer reads the prompt), task (an
extra task file).

What is evidence: within one call of `continuation_logprobs`, the cuts requested are the
label slots of one context (the ICL and coin-flip readers ask for every slot in one call),
and the tokens requested at a cut are its candidates in label order. The observation at an
earlier cut is the candidate found there in the prompt. The input of a slot is the shipped
task input whose template (either format) ends the text since the previous slot
(`learner:...?task=FILE.jsonl` adds a task); with none, the slot is a draw of a symbol
(coin flips). For `stream` (sampled paths) the candidates are the tokens of " 0," and " 1,"
after the shared prefix, as LMSampler builds them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit, logit

from bayesmatrix.bayes.dirichlet import Dirichlet, beta_bernoulli_predictive
from bayesmatrix.data import PLAIN_TEMPLATE, read_jsonl
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.models.base import LanguageModel
from bayesmatrix.models.learner_spec import LearnerSpec


@cache
def _task_inputs(extra: str) -> dict[str, tuple[int, tuple[str, ...]]]:
    """Every shipped task's inputs (and an extra task file's): the index of the true label
    in the task's label order, and the text that ends a slot asking for it in either format
    (the task's template, and the plain one, up to {label}). The task files are read as
    records (the ICL code validates them when it loads them); inputs shared by tasks with
    different labels are dropped."""
    folder = files("bayesmatrix.data").joinpath("tasks")
    paths = sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".jsonl"))
    found: dict[str, tuple[int, tuple[str, ...]]] = {}
    clash: set[str] = set()
    for path in paths + ([Path(extra)] if extra else []):
        records = [r for _, r in read_jsonl(path, "task file")]
        head: Any = records[0]  # JSON records: checked key by key below
        examples: list[Any] = records[1:]
        labels = list(head["labels"])
        templates = {head.get("template", PLAIN_TEMPLATE), PLAIN_TEMPLATE}
        for example in examples:
            text, label = example["input"], example["label"]
            index = labels.index(label)
            heads = tuple(
                t[: t.index("{label}")].replace("{input}", text).rstrip() for t in templates
            )
            if text in found and found[text][0] != index:
                clash.add(text)
            found[text] = (index, heads + found.get(text, (0, ()))[1])
    return {k: v for k, v in found.items() if k not in clash}


class LearnerModel(LanguageModel):
    """A learner by construction with a real tokenizer (see the module docstring)."""

    capabilities = frozenset({"logprobs", "streams"})

    def __init__(self, reference: str) -> None:
        from bayesmatrix.models.tokenizer import load_tokenizer

        self.spec = LearnerSpec.parse(reference)
        self.name = reference
        self.identity = f"learner:{self.spec}"
        self.tokenizer = load_tokenizer(self.spec.tokenizer)
        self.vocab_size = len(self.tokenizer)
        self.context_length = 1 << 20
        self._init_tokens(self.tokenizer)
        self.inputs = _task_inputs(self.spec.task)

    # ---- the learner's predictive --------------------------------------------------------
    def predictive(
        self, seen: Sequence[int], k: int, truth: int | None, subject: str = ""
    ) -> np.ndarray:
        """[k] probabilities of the k candidates after the observations `seen` (candidate
        indices for symbols; 1 = agreed, 0 = not, for task inputs), before noise. truth: the
        index of the true label of the input asked about (None: a symbol); subject: that
        input's text (its prior)."""
        s = self.spec
        observed = np.asarray(seen, dtype=float)
        if s.kind == "ignorer":
            observed = observed[:0]
        elif s.kind == "recency":
            observed = observed[-s.window :]
        weights = np.ones(len(observed))
        if s.kind == "discount":
            weights = s.decay ** np.arange(len(observed) - 1, -1, -1, dtype=float)
        if truth is None:
            counts = np.zeros(k)
            np.add.at(counts, observed.astype(int), weights)
            return Dirichlet(np.full(k, s.kappa / k)).posterior(counts).mean()
        m = self.prior_of(subject)
        q = float(beta_bernoulli_predictive(
            (weights * observed).sum(), weights.sum(), s.kappa * m, s.kappa * (1 - m)
        ))  # fmt: skip
        out = np.full(k, (1 - q) / max(k - 1, 1))
        out[truth] = q
        return out

    def prior_of(self, subject: str) -> float:
        """The prior probability that a shown label of this input is the true one: `prior`,
        moved on the logit scale by prior_spread times a draw fixed by the seed and text."""
        s = self.spec
        if s.prior_spread == 0 or not subject:
            return s.prior
        z = _draws(s.seed, subject.encode("utf-8"), 1)[0]
        return float(expit(logit(s.prior) + s.prior_spread * z))

    def noisy(self, p: np.ndarray, context: Sequence[int]) -> np.ndarray:
        """p with Gaussian noise of SD `noise` on each candidate's logit (log-probability
        for several), drawn from the seed and the context read; renormalised."""
        s = self.spec
        if s.noise == 0:
            return p
        e = s.noise * _draws(s.seed, np.asarray(context, dtype=np.int64).tobytes(), len(p))
        if len(p) == 2:  # the binary readings: noise on the logit of the first
            first = expit(logit(np.clip(p[0], 1e-12, 1 - 1e-12)) + e[0])
            return np.array([first, 1 - first])
        scores = np.log(np.clip(p, 1e-300, None)) + e
        scores -= scores.max()
        return np.exp(scores) / np.exp(scores).sum()

    def _truth(self, text: str) -> tuple[int, str] | None:
        """The true label's index and the text of the task input this slot asks about: one
        whose template head ends the text (None: no task input, a symbol)."""
        end = text.rstrip()
        for candidate, (index, heads) in self.inputs.items():
            if candidate in end and any(end.endswith(h) for h in heads):
                return index, candidate
        return None

    def continuation_logprobs(
        self, ids: Sequence[int], requests: Sequence[tuple[int, Sequence[int]]]
    ) -> np.ndarray:
        """log P(tokens | ids[:cut]) of each request under the learner (see the module
        docstring for what it reads as evidence)."""
        ids = [int(i) for i in ids]
        if any(not 1 <= cut <= len(ids) or not toks for cut, toks in requests):
            raise BayesmatrixError(f"each request needs 1 <= cut <= {len(ids)} and tokens")
        slots: dict[int, list[tuple[int, ...]]] = {}
        for cut, toks in requests:
            group = slots.setdefault(cut, [])
            if tuple(toks) not in group:
                group.append(tuple(toks))
        cuts = sorted(slots)
        probs: dict[tuple[int, tuple[int, ...]], float] = {}
        seen: list[int] = []
        previous = 0
        for cut in cuts:
            candidates = slots[cut]
            found = self._truth(self.tokenizer.decode(ids[previous:cut]))
            truth, subject = found if found is not None else (None, "")
            if truth is not None and truth >= len(candidates):
                truth = None
            p = self.noisy(self.predictive(seen, len(candidates), truth, subject), ids[:cut])
            for j, toks in enumerate(candidates):
                probs[(cut, toks)] = float(p[j])
            shown = next(
                (
                    j
                    for j, toks in enumerate(candidates)
                    if tuple(ids[cut : cut + len(toks)]) == toks
                ),
                None,
            )
            if shown is not None:
                seen.append(int(shown == truth) if truth is not None else shown)
                previous = cut + len(candidates[shown])
            else:
                previous = cut
        chosen = np.array([probs[(cut, tuple(toks))] for cut, toks in requests])
        return np.log(np.maximum(chosen, 1e-300))

    def stream(
        self, ids: Sequence[int], copies: int = 1, tokens: Sequence[int] | None = None
    ) -> LearnerStream:
        """Copies of a coin-flip context (digits ' 0,' ' 1,'), extended flip by flip (the
        learner gives the digits' columns whatever `tokens` says)."""
        return LearnerStream(self, ids, copies)

    def digit_tokens(self) -> list[int]:
        """The tokens of '0' and '1' in ' 0,' and ' 1,' after their shared prefix."""
        units = [self.encode(f" {s},") for s in ("0", "1")]
        common = 0
        while units[0][common] == units[1][common]:
            common += 1
        return [units[0][common], units[1][common]]


class LearnerStream:
    """The learner's predictive over the two digit tokens, per copy, as log-prob rows."""

    def __init__(self, learner: LearnerModel, ids: Sequence[int], copies: int) -> None:
        self.learner, self.digits = learner, learner.digit_tokens()
        observed = [self.digits.index(t) for t in ids if t in self.digits]
        self.seen = [list(observed) for _ in range(copies)]
        self.logprobs = self._rows()

    def feed(self, tokens: np.ndarray) -> np.ndarray:
        for row, toks in zip(self.seen, np.asarray(tokens), strict=True):
            row.extend(self.digits.index(int(t)) for t in toks if int(t) in self.digits)
        self.logprobs = self._rows()
        return self.logprobs

    def _rows(self) -> np.ndarray:
        rows = np.full((len(self.seen), self.learner.vocab_size), -np.inf)
        for i, seen in enumerate(self.seen):
            p = self.learner.noisy(self.learner.predictive(seen, 2, None), [-1, *seen])
            rows[i, self.digits] = np.log(np.maximum(p, 1e-300))
        return rows


def _draws(seed: int, key: bytes, n: int) -> np.ndarray:
    """n standard normal draws fixed by a seed and a key (a text, a context's token ids)."""
    digest = hashlib.blake2b(key, digest_size=8, person=b"bayesmatrix").digest()
    return np.random.default_rng([seed, int.from_bytes(digest, "little")]).standard_normal(n)


def load_learner(reference: str) -> LearnerModel:
    """A learner by construction from its `learner:...` reference."""
    return LearnerModel(reference)
