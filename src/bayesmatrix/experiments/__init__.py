"""The computations of the claims, one module per claim family; each returns a tidy result
(a FrameResult: frames, save/load, verdicts). In-context learning is its own package
(`experiments.icl`: tasks, the sweep, the analysis, scaling laws, order effects, martingale
checks); the wind tunnels and the corpus matrix live in `windtunnel/` and `matrix/`."""
