"""Bayesian core: Dirichlet, Dirichlet mixtures (Theorem 2), sequence learners.

numpy/scipy only: this package never imports torch or transformers.
"""

from bayesmatrix.bayes.dirichlet import Beta, Dirichlet, beta_bernoulli_predictive
from bayesmatrix.bayes.learners import (
    BetaBernoulliLearner,
    HypothesisMixtureLearner,
    LearnerFit,
    RecencyLearner,
)
from bayesmatrix.bayes.mixture import DirichletMixture
from bayesmatrix.bayes.priors import LogisticNormal, SpikyPrior

__all__ = [
    "Beta",
    "BetaBernoulliLearner",
    "Dirichlet",
    "DirichletMixture",
    "HypothesisMixtureLearner",
    "LearnerFit",
    "LogisticNormal",
    "RecencyLearner",
    "SpikyPrior",
    "beta_bernoulli_predictive",
]
