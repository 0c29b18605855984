"""Figures shared by claims and commands: each reads result objects and returns a matplotlib
figure (`save_figure` writes one). A claim's own figures live in its claim module."""

from bayesmatrix.viz.common import figure_png, save_figure, show_figures_in_jupyter
from bayesmatrix.viz.geometry_plot import plot_geometry
from bayesmatrix.viz.icl_plot import plot_kappa, plot_learning_curves
from bayesmatrix.viz.matrix_plot import plot_matrix_comparison
from bayesmatrix.viz.prior_plot import plot_heldout_nll, plot_simplex
from bayesmatrix.viz.trace_plot import plot_trace

show_figures_in_jupyter()

__all__ = [
    "figure_png",
    "plot_geometry",
    "plot_heldout_nll",
    "plot_kappa",
    "plot_learning_curves",
    "plot_matrix_comparison",
    "plot_simplex",
    "plot_trace",
    "save_figure",
]
