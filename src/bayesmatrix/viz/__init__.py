"""Figures: read result objects, return matplotlib figures (and write them when asked)."""

from bayesmatrix.viz.common import save_figure
from bayesmatrix.viz.trace_plot import plot_trace

__all__ = ["plot_trace", "save_figure"]
