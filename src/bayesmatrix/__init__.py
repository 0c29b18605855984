"""bayesmatrix: test the Bayesian theory of language models on real models.

Front door: `load(name)` -> LanguageModel; `LanguageModel.trace(text)` -> Trace.
"""

from bayesmatrix.errors import BayesmatrixError, ModelNotFoundError
from bayesmatrix.models import DEFAULT_MODEL, LanguageModel, Trace, list_models, load

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MODEL",
    "BayesmatrixError",
    "LanguageModel",
    "ModelNotFoundError",
    "Trace",
    "__version__",
    "list_models",
    "load",
]
