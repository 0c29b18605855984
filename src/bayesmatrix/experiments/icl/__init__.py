"""In-context learning read as Bayesian updating: task files (tasks), one-pass prequential
readings and resumable sweeps (sweep), learner fits and verdicts (analysis), the Bayesian
scaling law (scaling), order effects (order), and the martingale checks, one-step (martingale)
and on sampled paths (paths)."""
