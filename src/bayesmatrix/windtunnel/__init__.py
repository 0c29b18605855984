"""Bayesian wind tunnels: tasks whose exact posterior predictive is known in closed form.

So far: the tasks and their exact posteriors (training and evaluation are not built yet).
"""

from bayesmatrix.windtunnel.tasks import (
    TASKS,
    BijectionElimination,
    DirichletCategorical,
    DirichletMarkov,
    make_task,
)

__all__ = ["TASKS", "BijectionElimination", "DirichletCategorical", "DirichletMarkov", "make_task"]
