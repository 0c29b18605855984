"""The corpus matrix's smoothing against NLTK's interpolated Kneser-Ney, side by side on the
same SmolLM2 tokens of the standard library's docstrings (40,000 training tokens, the next 600
held out; scored where NLTK's probability is > 0): held-out perplexity of NLTK's trigram KN
(discount 0.75), our trigram KN (fitted discounts) and the default matrix (hierarchical
Dirichlet over every matched suffix). README's figures; tests/matrix/test_smoothing.py checks
the ratios.
Run: .venv/bin/python benchmarks/kn_vs_nltk.py
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np


def perplexities(tokenizer: object, vocab_size: int, workdir: Path) -> tuple[dict, int]:
    """{nltk, kn, dirichlet: held-out perplexity} and the number of positions scored."""
    from nltk.lm import KneserNeyInterpolated

    from bayesmatrix.data import stdlib_docs
    from bayesmatrix.matrix import HierarchicalDirichlet, KneserNey, build_index
    from bayesmatrix.matrix.smoothing import fit

    ids = tokenizer(stdlib_docs(max_chars=200_000), add_special_tokens=False).input_ids
    train, test = ids[:40_000], ids[40_000:40_600]
    index = build_index([train], workdir / "idx", vocab_size, "s", "f", 0)
    fitted = fit(index, positions=1500)
    ref = KneserNeyInterpolated(3, discount=0.75)
    words = [str(t) for t in train]  # NLTK's vocabulary takes strings
    ngrams = [tuple(words[i : i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)]
    ref.fit([ngrams], vocabulary_text=words)
    kn = KneserNey(3, fitted.discounts)
    dirichlet = HierarchicalDirichlet(fitted.a, fitted.b)
    bits: dict[str, list[float]] = {"nltk": [], "kn": [], "dirichlet": []}
    for t in range(2, len(test)):
        q = ref.score(str(test[t]), [str(w) for w in test[t - 2 : t]])
        if q > 0:
            bits["nltk"].append(-math.log2(q))
            row = kn.posterior(kn.levels(index, test[:t]), vocab_size).mean()
            bits["kn"].append(-math.log2(row[test[t]]))
            row = dirichlet.posterior(index.levels(test[:t], 32), vocab_size).mean()
            bits["dirichlet"].append(-math.log2(row[test[t]]))
    return {k: float(2 ** np.mean(v)) for k, v in bits.items()}, len(bits["nltk"])


def main() -> None:
    from bayesmatrix.models.hf_load import load_tokenizer

    tokenizer, _ = load_tokenizer("smollm2-135m")
    with tempfile.TemporaryDirectory() as work:
        ppl, n = perplexities(tokenizer, len(tokenizer), Path(work))
    print(f"held-out perplexity on {n} positions (SmolLM2 tokens):")
    for name, value in ppl.items():
        print(f"  {name:<10} {value:7.2f}   ratio to NLTK {value / ppl['nltk']:.3f}")


if __name__ == "__main__":
    main()
