"""Shared fixtures: the embedded models are loaded once per session (from the on-disk cache
after the first conversion); tiny random models are built in-process for unit tests."""

from __future__ import annotations

import os

# Threads: CPU tests on a shared 2-core machine collapse when OpenMP threads spin for cores
# that other processes hold. The suite uses BAYESMATRIX_TEST_THREADS cores (2): one process
# takes them all, each of `make test`'s pytest-xdist workers an equal share (every CLI
# subprocess inherits its process's), and threads sleep instead of spinning while they wait.
CORES = int(os.environ.get("BAYESMATRIX_TEST_THREADS", "2"))
if "PYTEST_XDIST_WORKER" in os.environ:
    share = str(max(1, CORES // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = share
os.environ.setdefault("OMP_NUM_THREADS", str(CORES))
os.environ.setdefault("MKL_NUM_THREADS", str(CORES))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402

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


# ---- running on workers (make test: pytest-xdist, `-n 2`) ------------------------------------
# A module's tests run on one worker, in order, so that a module-scoped fixture is built once;
# the doc pages' examples and the notebooks, which share nothing, are spread one by one; the
# modules that read the session's test-profile run go to one worker, which runs it once.
SPREAD = {"tests/docs/test_examples.py", "tests/docs/test_notebooks.py"}
SHARED_RUN = {"tests/docs/test_site.py", "tests/report/test_validate.py",
              "tests/report/test_stability.py"}  # fmt: skip


def on_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    from xdist.scheduler import LoadScopeScheduling

    class ByModule(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::")[0]
            if module in SPREAD:
                return nodeid
            return "test-profile run" if module in SHARED_RUN else module

    return ByModule(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker whose collection holds a test that needs the vLLM server: ask the
    controller for it (a file it looks for when the worker's collection reaches it)."""
    from tests import vllm_services

    if on_worker(config) and any("vllm_server" in item.fixturenames for item in items):
        vllm_services.wanted().touch()


# ---- vLLM: one server and one engine per test run, started in the background ----------------
def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the vLLM services the collected tests use, so that they come up while other
    tests run (see tests/vllm_services.py). On xdist workers the controller starts the
    server (one for all workers) and the engine starts in the worker that first needs it."""
    from tests import vllm_services

    if on_worker(session.config) or session.config.option.collectonly:
        return
    names = {name for item in session.items for name in getattr(item, "fixturenames", ())}
    needed = {kind for kind in ("server", "engine") if f"vllm_{kind}" in names}
    if needed:
        vllm_services.start(needed)


def pytest_configure(config: pytest.Config) -> None:
    """On the xdist controller: the port of the workers' shared vLLM server, chosen before
    the workers start so that they inherit it."""
    from tests import vllm_services

    if not on_worker(config) and getattr(config.option, "numprocesses", None):
        os.environ[vllm_services.SHARED] = str(vllm_services.free_port())


def pytest_xdist_node_collection_finished(node, ids: list[str]) -> None:
    """On the xdist controller: start the shared vLLM server once a worker's collection
    shows a test that needs it."""
    from tests import vllm_services

    if vllm_services.wanted().exists():
        vllm_services.start({"server"}, port=int(os.environ[vllm_services.SHARED]))


def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests import vllm_services

    vllm_services.stop_all()
    if not on_worker(session.config) and vllm_services.SHARED in os.environ:
        vllm_services.wanted().unlink(missing_ok=True)


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
