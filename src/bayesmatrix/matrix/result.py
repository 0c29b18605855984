"""An LM against the ideal matrix of a corpus as a claim: the comparison, what the index was,
and the three verdicts (rows approach the matrix's where the corpus saw more; the LM
generalises beyond it; the matrix holds information the LM lacks)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.matrix.compare import Comparison, bootstrap_windows
from bayesmatrix.results.frame import FrameResult
from bayesmatrix.results.verdicts import Rule, Verdict, estimate

if TYPE_CHECKING:
    from bayesmatrix.models import LanguageModel

HELDOUT_EVERY = 20  # every 20th file of the corpus is held out of the index and compared on
CLOSER = Rule(
    "the change in KL(matrix || LM) per token of matched suffix", below=0, unit=" bits",
    id="matrix.closer",
)  # fmt: skip
GENERALISES = Rule(
    "the LM's saving over the matrix in bits per held-out token", above=0,
    id="matrix.generalises",
)  # fmt: skip
MIXTURE = Rule(
    "the held-out gain of the matrix-LM mixture in bits per token", above=0, id="matrix.mixture"
)


@dataclass
class MatrixResult(FrameResult):
    """comparison: per-position KL and log-losses (matrix.compare); index: what was indexed
    (tokens, files, the fitted hierarchical-Dirichlet a and b)."""

    model: str
    comparison: Comparison = field(metadata={"saved": False})  # saved in comparison/
    index: dict = field(default_factory=dict)

    @property
    def frame(self) -> pd.DataFrame:
        return self.comparison.positions

    def note(self) -> str:
        s, files = self.comparison.summary, self.index.get("files")
        matched8 = (self.comparison.positions["matched"] >= 8).mean()
        return (
            f"Index: {self.index['tokens']:,} tokens of the Python 3.11 documentation "
            f"({'all' if files is None else files} source files); hierarchical Dirichlet "
            f"a={self.index['a']:.3g}, b={self.index['b']:.3g}. {int(s['positions'])} held-out "
            f"positions in {int(s['windows'])} windows; intervals resample windows. The held-out "
            "files share the manual's formulaic markup with the indexed ones: "
            f"{matched8:.0%} of positions match a context of 8 or more tokens verbatim."
        )

    def verdicts(self) -> list[Verdict]:
        s = self.comparison.summary
        slope, lo, hi = s["kl_slope_bits"], s["kl_slope_bits_lo"], s["kl_slope_bits_hi"]
        out = [
            Verdict.from_rules(
                "The LM's rows are closer to the corpus matrix's where the corpus has seen a "
                "longer context",
                f"KL(matrix || LM) changes by {slope:+.3f} [{lo:+.3f}, {hi:+.3f}] bits per token "
                f"of matched suffix; mean {s['kl_matrix_lm_bits']:.2f} bits (reverse "
                f"{s['kl_lm_matrix_bits']:.2f})",
                [CLOSER.status(lo, hi)],
                subject=self.model,
                **CLOSER.record(slope, lo, hi),
            )
        ]
        diff, dlo, dhi = loss_difference(self.comparison.positions)
        out.append(
            Verdict.from_rules(
                "The LM generalises beyond the corpus matrix (lower held-out perplexity)",
                f"perplexity LM {s['ppl_lm']:.1f} [{s['ppl_lm_lo']:.1f}, {s['ppl_lm_hi']:.1f}], "
                f"matrix {s['ppl_matrix']:.1f} [{s['ppl_matrix_lo']:.1f}, "
                f"{s['ppl_matrix_hi']:.1f}]; the LM saves {diff:.2f} [{dlo:.2f}, {dhi:.2f}] "
                "bits per token",
                [GENERALISES.status(dlo, dhi)],
                subject=self.model,
                **GENERALISES.record(diff, dlo, dhi),
            )
        )
        if "mix_gain_bits" in s:
            gain = estimate(s["mix_gain_bits"], s["mix_gain_bits_lo"], s["mix_gain_bits_hi"])
            out.append(
                Verdict.from_rules(
                    "The corpus matrix holds information the LM lacks (a mixture lowers held-out "
                    "loss)",
                    f"weight {s['mix_lambda_heldout']:.2f} on the matrix (chosen on even windows) "
                    f"gains {gain} bits per token on odd windows (perplexity "
                    f"{s['ppl_lm_heldout']:.1f} -> {s['ppl_mix_heldout']:.1f})",
                    [MIXTURE.status(s["mix_gain_bits_lo"], s["mix_gain_bits_hi"])],
                    subject=self.model,
                    **MIXTURE.record(
                        s["mix_gain_bits"], s["mix_gain_bits_lo"], s["mix_gain_bits_hi"]
                    ),
                )
            )
        return out

    def save(self, directory: str | Path) -> Path:
        out = super().save(directory)
        self.comparison.save(out / "comparison")
        return out

    @classmethod
    def _load_extra(cls, src: Path) -> dict:
        return {"comparison": Comparison.load(src / "comparison")}


def loss_difference(frame: pd.DataFrame) -> tuple[float, float, float]:
    """Mean log2 p(LM) - log2 p(matrix) per token, with a window-bootstrap interval."""
    diff = frame["log2p_lm"] - frame["log2p_matrix"]
    return bootstrap_windows(frame, {"d": diff}, lambda s: s["d"] / s["n"])


def matrix_vs_lm(
    lm: LanguageModel,
    model: str,
    files: Sequence[Path],
    n_files: int | None,
    out: Path,
    tokens: int,
    window: int,
) -> MatrixResult:
    """Index the corpus files in the LM's tokenizer (every HELDOUT_EVERY-th file held out;
    an index this claim built earlier in out/index is reused, one of an older format rebuilt)
    and compare the LM with the matrix on the held-out text."""
    from bayesmatrix.matrix import IdealMatrix, build
    from bayesmatrix.matrix.compare import compare
    from bayesmatrix.matrix.ideal import HELDOUT

    index = out / "index"
    try:
        matrix = IdealMatrix(index)
    except BayesmatrixError:  # none yet, or an older format: it is ours to rebuild
        matrix, _ = build(
            list(files), model, index, heldout_every=HELDOUT_EVERY, overwrite=index.exists()
        )
    text = (index / HELDOUT).read_text(encoding="utf-8")
    result = compare(matrix, lm, text, out / "compare", window, tokens)
    info = {"tokens": matrix.index.n_tokens, "files": n_files, "a": matrix.fit.a}
    return MatrixResult(model, result, {**info, "b": matrix.fit.b})
