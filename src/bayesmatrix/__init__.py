"""bayesmatrix: test the Bayesian theory of language models on real models.

Front door: `load(name)` -> LanguageModel; `LanguageModel.trace(text)` -> Trace;
`run(claim, model=..., profile=...)` -> ClaimRun (verdicts, figures, the reproducing
command; rich display in Jupyter); `list_claims()`, `get_claim(name)`, `run_claim(...)` and
`run_validation(...)` for the claims and their verdicts; `read_verdicts(path)` loads a run's
verdict records as a DataFrame; `atlas(models)` validates many models into one table and
page, `compare_runs(a, b)` lists what changed between two runs; `Dirichlet`,
`DirichletMixture` and the learners for the Bayesian reading; `IdealMatrix` for the corpus
matrix (`bayesmatrix.matrix.build` makes one).
Names resolve lazily, so `import bayesmatrix.bayes` never imports torch.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from bayesmatrix.bayes import (
    Beta,
    BetaBernoulliLearner,
    Dirichlet,
    DirichletMixture,
    HypothesisMixtureLearner,
    RecencyLearner,
)
from bayesmatrix.errors import BayesmatrixError, ModelNotFoundError

if TYPE_CHECKING:
    from bayesmatrix.claims import get_claim, list_claims, run_claim
    from bayesmatrix.claims.runs import ClaimRun, run
    from bayesmatrix.matrix import IdealMatrix
    from bayesmatrix.models import DEFAULT_MODEL, LanguageModel, Trace, list_models, load
    from bayesmatrix.report import run_validation
    from bayesmatrix.report.atlas import atlas
    from bayesmatrix.results.compare import compare_runs
    from bayesmatrix.results.records import read_verdicts

from bayesmatrix._version import __version__

# warnings a user cannot act on, raised by libraries bayesmatrix drives: tqdm in Jupyter
# without ipywidgets (progress stays textual)
warnings.filterwarnings("ignore", message="IProgress not found")

_LAZY = {
    "DEFAULT_MODEL": "models",
    "LanguageModel": "models",
    "Trace": "models",
    "list_models": "models",
    "load": "models",
    "IdealMatrix": "matrix",
    "get_claim": "claims",
    "list_claims": "claims",
    "run_claim": "claims",
    "run": "claims.runs",
    "ClaimRun": "claims.runs",
    "run_validation": "report",
    "read_verdicts": "results.records",
    "atlas": "report.atlas",
    "compare_runs": "results.compare",
}

__all__ = [
    "DEFAULT_MODEL",
    "BayesmatrixError",
    "Beta",
    "BetaBernoulliLearner",
    "ClaimRun",
    "Dirichlet",
    "DirichletMixture",
    "HypothesisMixtureLearner",
    "IdealMatrix",
    "LanguageModel",
    "ModelNotFoundError",
    "RecencyLearner",
    "Trace",
    "__version__",
    "atlas",
    "compare_runs",
    "get_claim",
    "list_claims",
    "list_models",
    "load",
    "read_verdicts",
    "run",
    "run_claim",
    "run_validation",
]


def __dir__() -> list[str]:
    """The public API, lazily resolved names included (`dir(bayesmatrix)` shows `load`, `run`
    and the rest before their first use; not the module's own imports)."""
    return sorted(__all__)


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"bayesmatrix.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'bayesmatrix' has no attribute {name!r}")
