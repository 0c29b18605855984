"""Bayesian wind tunnels: tasks whose exact posterior predictive is known in closed form,
small models trained on them (train.py) and scored against the exact posterior (evaluate.py)."""

from bayesmatrix.windtunnel.tasks import (
    TASKS,
    BijectionElimination,
    BijectionPeer,
    DirichletCategorical,
    DirichletMarkov,
    HMMFiltering,
    HMMInContext,
    make_task,
)

__all__ = [
    "TASKS",
    "BijectionElimination",
    "BijectionPeer",
    "DirichletCategorical",
    "DirichletMarkov",
    "HMMFiltering",
    "HMMInContext",
    "make_task",
]
