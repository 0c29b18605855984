"""Training lowers the gap to the exact posterior; the transformer round-trips through
save_pretrained, bayesmatrix.load and trace; checkpoints resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import bayesmatrix
from bayesmatrix import BayesmatrixError
from bayesmatrix.windtunnel import make_task
from bayesmatrix.windtunnel.evaluate import evaluate, gap_frame, model_predictive
from bayesmatrix.windtunnel.nets import build, n_params
from bayesmatrix.windtunnel.train import train
from tests.cli_helpers import run_cli

TASK = make_task("dirichlet", vocab=4, alpha=1.0, length=12)


def test_gap_frame_against_direct_formulas():
    rng = np.random.default_rng(0)
    exact = rng.dirichlet(np.ones(4), size=(3, 5))
    model = rng.dirichlet(np.ones(4), size=(3, 5))
    frame = gap_frame(exact, model)
    kl = (exact * np.log2(exact / model)).sum(-1).mean(0)
    np.testing.assert_allclose(frame["kl_bits"], kl)
    assert (gap_frame(exact, exact)["kl_bits"].abs() < 1e-12).all()


def test_architectures_are_parameter_matched():
    counts = {a: n_params(build(a, 8, 32)) for a in ("transformer", "lstm", "mlp", "mamba")}
    assert max(counts.values()) / min(counts.values()) < 1.1
    with pytest.raises(BayesmatrixError, match="unknown architecture"):
        build("cnn", 8, 32)


@pytest.mark.parametrize("arch", ["transformer", "lstm", "mlp"])
def test_short_training_lowers_kl(tmp_path, arch):
    untrained = evaluate(build(arch, TASK.vocab, TASK.length).eval(), TASK, n=300)
    model, log = train(TASK, arch, tmp_path, minutes=5, max_steps=120)
    trained = evaluate(model, TASK, n=300)
    assert log.steps == 120
    assert trained["kl_bits"].mean() < 0.5 * untrained["kl_bits"].mean()


@pytest.mark.parametrize("arch", ["transformer", "lstm", "mlp", "mamba"])
def test_the_row_after_bos_is_learned(tmp_path, arch):
    """Bijection: the first token is uniform over the keys only (half the vocabulary). A BOS
    embedding that cannot learn (as when it doubles as the padding index) leaves 1 bit here."""
    task = make_task("bijection", keys=3)
    model, _ = train(task, arch, tmp_path, minutes=5, max_steps=200)
    assert evaluate(model, task, n=200)["kl_bits"].iloc[0] < 0.05


def test_checkpoint_resumes_where_it_stopped(tmp_path):
    train(TASK, "lstm", tmp_path, minutes=5, max_steps=200)
    _, log = train(TASK, "lstm", tmp_path, minutes=5, max_steps=250)
    assert log.steps == 250  # 200 from the checkpoint, 50 more
    assert json.loads((tmp_path / "train.json").read_text())["steps"] == 250


def test_transformer_round_trips_through_load_and_trace(tmp_path):
    model, _ = train(TASK, "transformer", tmp_path / "run", minutes=5, max_steps=30)
    model.save(tmp_path / "model")
    lm = bayesmatrix.load(tmp_path / "model")
    x = TASK.sample(1, seed=5)
    trace = lm.trace([TASK.vocab, *x[0].tolist()], top_k=2, rows="float32")
    direct = torch.softmax(model(torch.tensor([[TASK.vocab, *x[0].tolist()]])).double(), -1)
    np.testing.assert_allclose(trace.rows, direct[0].detach().numpy(), atol=1e-6)
    renorm = model_predictive(model, x, TASK.vocab)[0]
    rows = trace.rows[:-1, : TASK.vocab] / trace.rows[:-1, : TASK.vocab].sum(1, keepdims=True)
    np.testing.assert_allclose(rows, renorm, atol=1e-5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--arch", "cnn"], "unknown architecture"),
        (["--task", "hmmm"], "unknown wind-tunnel task"),
        (["--V", "1"], "V must be at least 2"),
        (["--minutes", "0"], "must be positive"),
        (["--steps", "0"], "at least 1"),
        (["--alpha", "-1"], "positive"),
    ],
)
def test_cli_bad_input(tmp_path, args, message):
    proc = run_cli("windtunnel", "run", "--out", str(tmp_path), *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
