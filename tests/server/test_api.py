"""Explorer API with FastAPI's TestClient and the real default model."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi.testclient import TestClient

from bayesmatrix.experiments.icl import prequential_label_probs
from bayesmatrix.server import create_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(smollm2, tmp_path_factory):
    allowed = tmp_path_factory.mktemp("allowed")
    return TestClient(create_app([allowed], load=lambda name: smollm2)), allowed


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
    assert len(data["bayes_fit"]) == 3 and data["kappa"] > 0


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
            {"model": "smollm2-135m", "demos": [["x", "pos"]], "label_words": {"neg": "bad"}},
            400,
            "no label word",
        ),
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
    c = TestClient(app, raise_server_exceptions=False)
    res = c.post("/api/trace", json={"model": str(outside), "prompt": "x"})
    assert res.status_code == 400 and not loaded
    broken = c.post("/api/trace", json={"model": str(allowed / "mine"), "prompt": "x"})
    assert loaded == [str((allowed / "mine").resolve())]
    # the stand-in loader returns no model: an unexpected error is a 500 JSON, not a crash
    assert broken.status_code == 500 and "error" in broken.json()
    assert c.get("/api/models").status_code == 200
