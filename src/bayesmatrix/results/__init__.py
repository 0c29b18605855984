"""Results on disk: one atomic writer, damaged files named, output folders that are ours."""

from bayesmatrix.results.io import DamagedResultError
from bayesmatrix.results.outdir import claim_output_dir, safe_name

__all__ = ["DamagedResultError", "claim_output_dir", "safe_name"]
