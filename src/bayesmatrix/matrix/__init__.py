"""The ideal matrix of a real corpus: suffix-array counts with a hierarchical Bayesian prior,
queryable for any prompt in an LM's tokenizer and comparable with that LM's rows."""

from bayesmatrix.matrix.ideal import BuildStats, IdealMatrix, Row, build
from bayesmatrix.matrix.index import Level, SuffixIndex, build_index
from bayesmatrix.matrix.smoothing import HierarchicalDirichlet, KneserNey

__all__ = [
    "BuildStats",
    "HierarchicalDirichlet",
    "IdealMatrix",
    "KneserNey",
    "Level",
    "Row",
    "SuffixIndex",
    "build",
    "build_index",
]
