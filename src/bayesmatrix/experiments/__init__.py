"""Experiments, one module per claim family; each returns a tidy result with a verdict."""

from bayesmatrix.experiments.continuity import ContinuityResult, run_continuity
from bayesmatrix.experiments.cot import CotResult, run_cot
from bayesmatrix.experiments.entropy import EntropyResult, majorizes, run_entropy
from bayesmatrix.experiments.hallucination import HallucinationResult, auroc, run_hallucination
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
from bayesmatrix.experiments.questions import load_facts, load_problems
from bayesmatrix.experiments.result import Verdict

__all__ = [
    "CONDITIONS",
    "Condition",
    "ContinuityResult",
    "CotResult",
    "EntropyResult",
    "HallucinationResult",
    "IclAnalysis",
    "PriorApproxResult",
    "Task",
    "Verdict",
    "analyse",
    "approximate_prior",
    "auroc",
    "builtin_tasks",
    "get_task",
    "load_facts",
    "load_problems",
    "load_task",
    "majorizes",
    "martingale_gaps",
    "martingale_verdict",
    "martingale_verdicts",
    "parse_condition",
    "prequential_label_probs",
    "run_cell",
    "run_continuity",
    "run_cot",
    "run_entropy",
    "run_hallucination",
    "run_sweep",
]
