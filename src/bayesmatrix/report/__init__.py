"""The validation run and its self-contained HTML report."""

from bayesmatrix.report.html import render_report
from bayesmatrix.report.validate import PROFILES, ClaimSection, run_validation

__all__ = ["PROFILES", "ClaimSection", "render_report", "run_validation"]
