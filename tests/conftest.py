"""Shared fixtures: the embedded models are loaded once per session (from the on-disk cache
after the first conversion); tiny random models are built in-process for unit tests."""

from __future__ import annotations

import os

# Threads: CPU tests on a shared 2-core machine collapse when OpenMP threads spin for cores
# that other processes hold. Each process (and every CLI subprocess, which inherits these)
# uses at most 2 threads that sleep instead of spinning while they wait.
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", "2")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
import torch
from hypothesis import settings as hypothesis_settings

# property tests draw the same examples on every run and machine: a failure is a defect to
# fix, never a draw that passes on the next run (and no example database carries state)
hypothesis_settings.register_profile("suite", derandomize=True, database=None)
hypothesis_settings.load_profile("suite")

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

import bayesmatrix  # noqa: E402
from bayesmatrix.models.hf import HFLanguageModel as LanguageModel  # noqa: E402


@pytest.fixture(scope="session")
def smollm2() -> LanguageModel:
    return bayesmatrix.load("smollm2-135m")


@pytest.fixture(scope="session")
def gemma3() -> LanguageModel:
    return bayesmatrix.load("gemma3-270m")


@pytest.fixture(scope="session", params=["smollm2", "gemma3"])
def embedded(request: pytest.FixtureRequest) -> LanguageModel:
    """Each embedded model in turn."""
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def tiny(smollm2: LanguageModel) -> LanguageModel:
    """A randomly initialised 2-layer Llama with SmolLM2's real tokenizer and a 64-token window."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=smollm2.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config).eval()
    return LanguageModel(model, smollm2.tokenizer, "tiny-llama")


@pytest.fixture(scope="session")
def test_profile_run(tmp_path_factory: pytest.TempPathFactory):
    """`bayesmatrix validate --profile test` on the default model, run once per session: the
    folder it wrote and the finished process (shared by the end-to-end and stability tests;
    they must not change the folder)."""
    from tests.cli_helpers import run_cli

    out = tmp_path_factory.mktemp("validate") / "v"
    return out, run_cli("validate", "--profile", "test", "--out", str(out), check=True)


# ---- vLLM: one server and one engine per test run, started in the background ----------------
def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the vLLM services the collected tests use, so that they come up while other
    tests run (see tests/vllm_services.py)."""
    from tests import vllm_services

    names = {name for item in session.items for name in getattr(item, "fixturenames", ())}
    needed = {kind for kind in ("server", "engine") if f"vllm_{kind}" in names}
    if needed and not session.config.option.collectonly:
        vllm_services.start(needed)


def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests import vllm_services

    vllm_services.stop_all()


@pytest.fixture(scope="session")
def vllm_server() -> str:
    """The base URL of the session's vLLM server of SmolLM2 (served as `smollm2`)."""
    from tests import vllm_services

    return vllm_services.get("server").url()  # type: ignore[union-attr]


@pytest.fixture(scope="session")
def vllm_engine():
    """The session's vLLM engine of SmolLM2 (`vllm:<folder>?eager=1`)."""
    from tests import vllm_services

    return vllm_services.get("engine").get()  # type: ignore[union-attr]
