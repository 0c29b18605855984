"""Explorer API with FastAPI's TestClient and the real default model."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi.testclient import TestClient
from scipy.special import logit

from bayesmatrix.experiments.icl.sweep import prequential_label_probs
from bayesmatrix.server import create_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(smollm2, tmp_path_factory):
    allowed = tmp_path_factory.mktemp("allowed")
    app = create_app([allowed], load=lambda name: smollm2)
    return TestClient(app, base_url="http://127.0.0.1"), allowed


def test_page_and_plotly_are_local(client):
    c, _ = client
    page = c.get("/").text
    assert '<script src="/static/plotly.min.js">' in page
    assert not re.search(r"(src|href)=\"https?://", page)
    js = c.get("/static/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000


def test_trace_equals_the_library(client, smollm2):
    c, _ = client
    res = c.post(
        "/api/trace",
        json={"model": "smollm2-135m", "prompt": "The capital of France is", "top_k": 5},
    )
    assert res.status_code == 200
    data = res.json()
    trace = smollm2.trace("The capital of France is", top_k=5)
    assert data["tokens"] == trace.tokens
    np.testing.assert_allclose(data["entropy_bits"], trace.entropy_bits, atol=1e-9)
    assert [r["token"] for r in data["topk"][-1]] == trace.topk_tokens[-1]
    assert data["surprisal_bits"][-1] is None


def test_icl_equals_the_library(client, smollm2):
    c, _ = client
    demos = [["I loved it", "positive"], ["Awful film", "negative"], ["Great fun", "positive"]]
    words = {"positive": "positive", "negative": "negative"}
    res = c.post("/api/icl", json={"model": "smollm2-135m", "demos": demos, "label_words": words})
    assert res.status_code == 200, res.text
    data = res.json()
    frame = prequential_label_probs(smollm2, [tuple(d) for d in demos], words)
    np.testing.assert_allclose(data["p_label"], frame["p_true"], atol=1e-9)
    # the server's kappa is the least-squares Beta-Bernoulli fit on the logit scale (as the
    # icl claim fits it): checked by brute force over a fine grid, independently of the fit
    zero = [
        prequential_label_probs(smollm2, [(x, "positive")], words).loc[0, f"p_{y}"]
        for x, y in demos
    ]
    p = np.clip(frame["p_true"].to_numpy(), 1e-4, 1 - 1e-4)
    prior = np.clip(np.asarray(zero), 1e-4, 1 - 1e-4)
    np.testing.assert_allclose(data["zero_shot"], prior, atol=1e-9)
    seen = np.arange(len(p))  # demonstrations before each reading, every one agreeing

    def curve(kappa: float) -> np.ndarray:
        return (kappa * prior + seen) / (kappa + seen)

    def rss(kappa: float) -> float:
        return float(np.sum((logit(p) - logit(np.clip(curve(kappa), 1e-4, 1 - 1e-4))) ** 2))

    grid = np.exp(np.linspace(np.log(1e-2), np.log(1e4), 20001))
    best = grid[np.argmin([rss(k) for k in grid])]
    if data["kappa"] is None:  # a fit at its bound is no number
        assert data["kappa_at_bound"] and best > 0.99e4
    else:
        assert rss(data["kappa"]) <= rss(best) + 1e-9
        assert data["kappa"] == pytest.approx(best, rel=2e-3)
        np.testing.assert_allclose(data["bayes_fit"], curve(data["kappa"]), atol=1e-9)
    assert data["label_mass_k0"] == pytest.approx(frame.loc[0, "label_mass"], rel=1e-9)


def test_icl_reads_the_tasks_own_format(client, smollm2):
    """With the shipped task's template and instruction (GET /api/task) the page reads what
    the sweep reads (read_task), where the label words carry real mass."""
    from bayesmatrix.experiments.icl.sweep import read_task
    from bayesmatrix.experiments.icl.tasks import get_task

    c, _ = client
    task = c.get("/api/task/sentiment").json()
    body = {"model": "smollm2-135m", "demos": task["examples"][:4], **{
        k: task[k] for k in ("label_words", "template", "instruction")}}  # fmt: skip
    data = c.post("/api/icl", json=body).json()
    lib = get_task("sentiment")
    frame = read_task(smollm2, lib, [tuple(d) for d in task["examples"][:4]], lib.label_words)
    np.testing.assert_allclose(data["p_label"], np.clip(frame["p_true"], 1e-4, 1 - 1e-4))
    assert data["label_mass_k0"] > 0.05
    bad = c.post("/api/icl", json={**body, "template": "{input.__class__} {label}"})
    assert bad.status_code == 422 and "may only use the fields" in bad.text


@pytest.mark.parametrize(
    ("path", "body", "code", "message"),
    [
        ("/api/trace", {"model": "/etc/passwd", "prompt": "x"}, 400, "not allowed"),
        ("/api/trace", {"model": "../../", "prompt": "x"}, 400, "not allowed"),
        ("/api/trace", {"model": "smollm2-135m", "prompt": "x" * 5000}, 400, "over 4000"),
        ("/api/trace", {"model": "smollm2-135m", "prompt": ""}, 422, ""),
        ("/api/trace", {"model": "smollm2-135m", "prompt": "x", "top_k": 999}, 422, ""),
        (
            "/api/icl",
            {
                "model": "smollm2-135m",
                "demos": [["x", "pos"]],
                "label_words": {"neg": "bad", "neu": "meh"},
            },
            422,
            "no label word",
        ),
        (
            "/api/icl",
            {"model": "smollm2-135m", "demos": [["x", "pos"]], "label_words": {"pos": "good"}},
            422,
            "at least 2",
        ),
        (
            "/api/icl",
            {"model": "smollm2-135m", "demos": [["x", "a"]], "label_words": {"a": "", "b": " "}},
            422,
            "non-empty and distinct",
        ),
        ("/api/icl", {"model": "smollm2-135m", "demos": [], "label_words": {}}, 422, ""),
        ("/api/trace", {"model": "smollm2\x00-135m", "prompt": "x"}, 400, "NUL"),
    ],
)
def test_bad_requests_are_refused_cleanly(client, path, body, code, message):
    c, _ = client
    res = c.post(path, json=body)
    assert res.status_code == code, res.text
    if message:
        assert message in res.json()["error"]


def test_oversized_body_and_unknown_task(client):
    c, _ = client
    big = c.post(
        "/api/trace",
        content=b"{" + b" " * 70_000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert big.status_code == 413
    assert c.get("/api/task/nope").status_code == 400
    assert c.get("/api/task/sentiment").json()["label_words"]["positive"] == "positive"
    assert c.get("/api/models").status_code == 200  # still serving


def test_concurrent_requests_queue_and_agree(client):
    c, _ = client
    body = {"model": "smollm2-135m", "prompt": "Concurrency is handled by a lock", "top_k": 3}
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: c.post("/api/trace", json=body), range(8)))
    assert all(r.status_code == 200 for r in results)
    assert len({str(r.json()["entropy_bits"]) for r in results}) == 1


def test_allowed_directory_models_only(tmp_path):
    loaded = []
    allowed = tmp_path / "models"
    (allowed / "mine").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    app = create_app([allowed], load=lambda name: loaded.append(name))
    c = TestClient(app, base_url="http://localhost", raise_server_exceptions=False)
    res = c.post("/api/trace", json={"model": str(outside), "prompt": "x"})
    assert res.status_code == 400 and not loaded
    broken = c.post("/api/trace", json={"model": str(allowed / "mine"), "prompt": "x"})
    assert loaded == [str((allowed / "mine").resolve())]
    # the stand-in loader returns no model: an unexpected error is a 500 JSON, not a crash
    assert broken.status_code == 500 and "error" in broken.json()
    assert c.get("/api/models").status_code == 200


def test_body_limit_holds_for_chunked_bodies_without_content_length(client):
    c, _ = client

    def chunks():
        for _ in range(32):
            yield b" " * 65_536  # 2 MiB in all, streamed without a Content-Length

    res = c.post("/api/trace", content=chunks(), headers={"Content-Type": "application/json"})
    assert res.status_code == 413 and "over 65536 bytes" in res.json()["error"]
    assert c.get("/api/models").status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.2", ""])
def test_foreign_host_headers_are_refused(client, host):
    c, _ = client
    assert c.get("/", headers={"Host": host}).status_code == 400
    for ok in ("127.0.0.1:8000", "localhost", "[::1]:9"):
        assert c.get("/api/models", headers={"Host": ok}).status_code == 200


def test_security_headers_and_no_paths_leak(client):
    c, allowed = client
    for res in (c.get("/"), c.get("/api/models"), c.post("/api/trace", json={})):
        assert res.headers["x-content-type-options"] == "nosniff"
        assert res.headers["referrer-policy"] == "no-referrer"
        csp = res.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-eval" not in csp and "script-src 'self' 'unsafe-inline'" not in csp
    page = c.get("/").text
    assert "<script>" not in page  # no inline script: the CSP would block it
    listed = c.get("/api/models").json()["allowed_dirs"]
    assert listed == [allowed.name] and str(allowed) not in c.get("/api/models").text


def test_corrupt_weights_in_an_allowed_folder_are_a_400(tmp_path, smollm2):
    import shutil

    from bayesmatrix.models.reference import converted_folder

    allowed = tmp_path / "models"
    broken = allowed / "broken"
    shutil.copytree(converted_folder("smollm2-135m"), broken)
    (broken / "model.safetensors").write_bytes(b"\x00" * 4096)
    c = TestClient(create_app([allowed]), base_url="http://127.0.0.1")
    res = c.post("/api/trace", json={"model": str(broken), "prompt": "x"})
    assert res.status_code == 400 and "corrupt" in res.json()["error"]


def test_claims_endpoint_lists_the_registry(client):
    from bayesmatrix.claims import list_claims

    c, _ = client
    listed = c.get("/api/claims").json()["claims"]
    assert [x["name"] for x in listed] == [claim.name for claim in list_claims()]
    assert all(x["rule"] and x["description"] for x in listed)


# ---- issue #23: hostile bodies, bounded work, busy models, allowed models listed -------------
def test_a_lone_surrogate_and_deep_nesting_are_400s(client):
    c, _ = client
    surrogate = b'{"model": "smollm2-135m", "prompt": "x\\ud800y"}'
    res = c.post("/api/trace", content=surrogate, headers={"Content-Type": "application/json"})
    assert res.status_code == 400 and "not valid Unicode" in res.json()["error"]
    deep = b'{"model": "smollm2-135m", "prompt": "x", "z": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    res = c.post("/api/trace", content=deep, headers={"Content-Type": "application/json"})
    assert res.status_code == 400 and "nested 5001 levels deep" in res.json()["error"]
    quoted = b'{"model": "smollm2-135m", "prompt": "' + b"[" * 100 + b'", "top_k": 2}'
    assert (
        c.post(
            "/api/trace", content=quoted, headers={"Content-Type": "application/json"}
        ).status_code
        == 200
    )  # brackets in a string are text
    assert c.get("/api/models").status_code == 200


def test_label_words_are_bounded(client):
    c, _ = client
    words = {f"l{i}": f"w{i}" for i in range(2000)}
    body = {"model": "smollm2-135m", "demos": [["x", "l0"]], "label_words": words}
    res = c.post("/api/icl", json=body)
    assert res.status_code == 422 and "at most 10" in res.json()["error"]
    long = {"a": "x" * 41, "b": "y"}
    res = c.post("/api/icl", json={**body, "label_words": long, "demos": [["x", "a"]]})
    assert res.status_code == 422 and "at most 40 characters" in res.json()["error"]


def test_a_request_that_cannot_get_the_model_is_told_the_server_is_busy():
    import threading

    entered, release = threading.Event(), threading.Event()

    class Slow:
        def trace(self, prompt: str, top_k: int):
            entered.set()
            release.wait(30)
            raise RuntimeError("released")

    app = create_app(load=lambda _: Slow(), lock_wait=0.5)
    c = TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False)
    body = {"model": "smollm2-135m", "prompt": "x"}
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(c.post, "/api/trace", json=body)
        assert entered.wait(30)  # the first request now holds the model
        second = c.post("/api/trace", json=body)
        release.set()
        first.result()
    assert second.status_code == 503 and "busy" in second.json()["error"]
    assert second.headers["retry-after"] == "5"


def test_allowed_folders_models_are_listed_by_name(tmp_path, smollm2):
    import shutil

    from bayesmatrix.models.reference import converted_folder

    allowed = tmp_path / "models"
    shutil.copytree(converted_folder("smollm2-135m"), allowed / "mine")
    (allowed / "not-a-model").mkdir()
    loaded = []
    c = TestClient(
        create_app([allowed], load=lambda name: loaded.append(name) or smollm2),
        base_url="http://127.0.0.1",
    )
    listed = c.get("/api/models").json()
    assert "models/mine" in listed["models"] and "models/not-a-model" not in listed["models"]
    assert str(tmp_path) not in str(listed)
    res = c.post("/api/trace", json={"model": "models/mine", "prompt": "Hello"})
    assert res.status_code == 200 and loaded == [str((allowed / "mine").resolve())]


@pytest.mark.slow
def test_the_server_stops_on_the_first_sigterm_even_during_a_long_request(tmp_path):
    """A long /api/icl request in flight used to hold the process after SIGTERM."""
    import contextlib
    import json
    import signal
    import threading
    import time
    import urllib.error
    import urllib.request

    from tests.server.conftest import start_server

    server, base = start_server()
    try:
        demos = [[f"film {i} was fine", "positive" if i % 2 else "negative"] for i in range(64)]
        words = {"positive": "positive", "negative": "negative"}
        body = json.dumps({"model": "smollm2-135m", "demos": demos, "label_words": words})
        request = urllib.request.Request(
            base + "/api/icl", data=body.encode(), headers={"Content-Type": "application/json"}
        )

        def call() -> None:
            with contextlib.suppress(urllib.error.URLError, OSError):
                urllib.request.urlopen(request, timeout=120)

        worker = threading.Thread(target=call, daemon=True)
        worker.start()
        time.sleep(4)
        assert worker.is_alive()  # the request is in flight
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)  # the request alone takes longer: raises if it held the process
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
