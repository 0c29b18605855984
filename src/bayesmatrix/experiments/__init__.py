"""Experiments, one module per claim family; each returns a tidy result with a verdict."""

from bayesmatrix.experiments.icl import (
    CONDITIONS,
    Condition,
    parse_condition,
    prequential_label_probs,
    run_cell,
    run_sweep,
)
from bayesmatrix.experiments.icl_analysis import IclAnalysis, analyse
from bayesmatrix.experiments.icl_martingale import (
    martingale_gaps,
    martingale_verdict,
    martingale_verdicts,
)
from bayesmatrix.experiments.icl_tasks import Task, builtin_tasks, get_task, load_task
from bayesmatrix.experiments.prior_approx import PriorApproxResult, approximate_prior
from bayesmatrix.experiments.result import Verdict

__all__ = [
    "CONDITIONS",
    "Condition",
    "IclAnalysis",
    "PriorApproxResult",
    "Task",
    "Verdict",
    "analyse",
    "approximate_prior",
    "builtin_tasks",
    "get_task",
    "load_task",
    "martingale_gaps",
    "martingale_verdict",
    "martingale_verdicts",
    "parse_condition",
    "prequential_label_probs",
    "run_cell",
    "run_sweep",
]
