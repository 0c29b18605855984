"""bayesmatrix: test the Bayesian theory of language models on real models.

Front door: `load(name)` -> LanguageModel; `LanguageModel.trace(text)` -> Trace;
`Dirichlet`, `DirichletMixture` and the learners for the Bayesian reading;
`IdealMatrix` for the corpus matrix (`bayesmatrix.matrix.build` makes one).
Model names resolve lazily, so `import bayesmatrix.bayes` never imports torch.
"""

from __future__ import annotations

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
    from bayesmatrix.matrix import IdealMatrix
    from bayesmatrix.models import DEFAULT_MODEL, LanguageModel, Trace, list_models, load

__version__ = "0.3.0"

_LAZY = {
    "DEFAULT_MODEL": "models",
    "LanguageModel": "models",
    "Trace": "models",
    "list_models": "models",
    "load": "models",
    "IdealMatrix": "matrix",
}

__all__ = [
    "DEFAULT_MODEL",
    "BayesmatrixError",
    "Beta",
    "BetaBernoulliLearner",
    "Dirichlet",
    "DirichletMixture",
    "HypothesisMixtureLearner",
    "IdealMatrix",
    "LanguageModel",
    "ModelNotFoundError",
    "RecencyLearner",
    "Trace",
    "__version__",
    "list_models",
    "load",
]


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"bayesmatrix.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'bayesmatrix' has no attribute {name!r}")
