"""Experiments, one module per claim family; each returns a tidy result with a verdict."""

from bayesmatrix.experiments.prior_approx import PriorApproxResult, approximate_prior
from bayesmatrix.experiments.result import Verdict

__all__ = ["PriorApproxResult", "Verdict", "approximate_prior"]
