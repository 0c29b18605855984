"""A misbehaving OpenAI-compatible server: the real vLLM server (tests/vllm_services.py) behind
a stand-in on 127.0.0.1 that rewrites its replies to completions (NaN, positive
log-probabilities, rows that do not sum to one, partial and empty rows, malformed JSON,
HTTP 500, no answer at all). Every case stops the run with one line naming what went wrong,
exit 2 on the CLI and a BayesmatrixError in Python, and no verdict or finished result is
written from such a reading."""

from __future__ import annotations

import json
import math

import pytest

import bayesmatrix
from bayesmatrix.errors import BayesmatrixError
from bayesmatrix.models.checks import InvalidReadingError
from tests.cli_helpers import run_cli
from tests.vllm_services import Proxy

pytestmark = pytest.mark.slow
FULL = 1000  # a row with more entries than this is a full row (the vocabulary is 49152)


def logprobs(reply: object, change, rows=lambda row: row, under: bool = False) -> object:
    """The reply with every number under a key naming log-probabilities changed, and every
    full row (a mapping of more than FULL tokens) passed through `rows` first."""
    if isinstance(reply, dict):
        if len(reply) > FULL:
            reply = rows(reply)
        return {
            k: logprobs(v, change, rows, under or "logprob" in str(k)) for k, v in reply.items()
        }
    if isinstance(reply, list):
        return [logprobs(v, change, rows, under) for v in reply]
    if under and isinstance(reply, float):
        return change(reply)
    return reply


def rewrite(change=lambda x: x, rows=lambda row: row):
    def mangle(status: int, payload: bytes):
        if status != 200:
            return status, payload
        return status, json.dumps(logprobs(json.loads(payload), change, rows)).encode()

    return mangle


def half(row: dict) -> dict:
    """Every probability of a full row halved (the row sums to 1/2)."""
    return logprobs(row, lambda x: x - math.log(2), under=True)


CASES = {
    "nan": (rewrite(lambda x: float("nan")), "coin-flips", "log-probability that is NaN"),
    "positive": (rewrite(lambda x: 2.0), "coin-flips", "of +2 (log-probabilities are <= 0)"),
    "not-normalised": (rewrite(rows=half), "rows", "a full row that sums to 0.5"),
    "partial-rows": (
        rewrite(rows=lambda row: dict(list(row.items())[: len(row) // 2])),
        "rows",
        "a full row asked for, 24576 of 49152 tokens given",
    ),
    "empty-rows": (rewrite(rows=lambda row: {}), "rows", "malformed reply"),
    "malformed-json": (lambda status, payload: (200, b"{not json"), "coin-flips", "not JSON"),
    "http-500": (lambda status, payload: (500, b"boom"), "coin-flips", "HTTP 500: boom"),
    "no-answer": (lambda status, payload: None, "coin-flips", "did not answer within 3 s"),
}


def said(stderr: str, claim: str) -> list[str]:
    """What the run said on stderr, its progress lines aside."""
    return [
        line
        for line in stderr.splitlines()
        if line.strip() and not line.startswith(f"{claim}: ") and "still waiting" not in line
    ]


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_reply_stops_the_run_with_one_line_and_no_verdict(vllm_server, tmp_path, case):
    mangle, claim, message = CASES[case]
    # the full-row cases name the server's cap, so the client asks for full rows and trusts
    # the server to give them (the cap probe would otherwise see the short rows)
    options = "&max_logprobs=-1" if claim == "rows" else ""
    if case == "no-answer":  # a short read timeout: a real reply can take longer than this
        options += "&timeout=3"
    with Proxy(vllm_server, mangle=mangle) as proxy:
        model = f"{proxy.url}?model=smollm2{options}"
        proc = run_cli(claim, "--profile", "test", "--model", model, "--out", str(tmp_path))
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = said(proc.stderr, claim)
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.rglob("verdicts.json")) and not list(tmp_path.rglob("done.json"))
    assert "[supported]" not in proc.stdout and "[not supported]" not in proc.stdout


def test_the_python_api_refuses_an_invalid_reading_alike(vllm_server, tmp_path):
    with Proxy(vllm_server, mangle=rewrite(lambda x: 2.0)) as proxy:
        model = f"{proxy.url}?model=smollm2"
        with pytest.raises(InvalidReadingError, match="VllmLanguageModel smollm2"):
            bayesmatrix.run("coin-flips", model=model, profile="test", out=tmp_path / "api")
        lm = bayesmatrix.load(model)
        with pytest.raises(BayesmatrixError, match=r"log-probabilities are <= 0"):
            lm.trace("The capital of France is")
    assert not list(tmp_path.rglob("verdicts.json"))
