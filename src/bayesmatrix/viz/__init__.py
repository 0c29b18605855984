"""Figures: read result objects, return matplotlib figures (and write them when asked)."""

from bayesmatrix.viz.claims_plot import (
    plot_continuity,
    plot_cot,
    plot_entropy,
    plot_geometry,
    plot_hallucination,
    plot_martingale_paths,
    plot_risk_coverage,
)
from bayesmatrix.viz.common import save_figure
from bayesmatrix.viz.icl_plot import plot_kappa, plot_learning_curves, plot_order_effects
from bayesmatrix.viz.matrix_plot import plot_matrix_comparison
from bayesmatrix.viz.prior_plot import plot_heldout_nll, plot_simplex
from bayesmatrix.viz.trace_plot import plot_trace

__all__ = [
    "plot_continuity",
    "plot_cot",
    "plot_entropy",
    "plot_geometry",
    "plot_hallucination",
    "plot_heldout_nll",
    "plot_kappa",
    "plot_learning_curves",
    "plot_martingale_paths",
    "plot_matrix_comparison",
    "plot_order_effects",
    "plot_risk_coverage",
    "plot_simplex",
    "plot_trace",
    "save_figure",
]
