"""Backends are siblings under one torch-free interface: the interface, the backend table and
the vLLM-server client import without torch; modules of models/ import each other in one
direction only; the torch-free tokenizer reads exactly what transformers reads."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bayesmatrix
from bayesmatrix.errors import CapabilityError, ModelNotFoundError
from bayesmatrix.models.backends import CAPABILITIES
from bayesmatrix.models.reference import backend_for, converted_folder, missing_capabilities

MODELS = Path(bayesmatrix.__file__).parent / "models"


def test_the_interface_and_the_server_client_import_without_torch():
    code = (
        "import sys\n"
        "import bayesmatrix, bayesmatrix.models, bayesmatrix.models.base\n"
        "import bayesmatrix.models.backends, bayesmatrix.models.loading\n"
        "import bayesmatrix.models.vllm_server, bayesmatrix.models.vllm_engine\n"
        "import bayesmatrix.models.tokenizer, bayesmatrix.claims.claim\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def imports_of(path: Path) -> set[str]:
    """The bayesmatrix.models modules a module imports (at any depth of its code)."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("bayesmatrix.models.")
        ):
            found.add(node.module.split(".")[2])
        elif isinstance(node, ast.ImportFrom) and node.module == "bayesmatrix.models":
            found |= {alias.name for alias in node.names if (MODELS / f"{alias.name}.py").is_file()}
    return found


def test_no_import_cycle_between_modules_of_models():
    graph = {p.stem: imports_of(p) - {p.stem} for p in MODELS.glob("*.py") if p.stem != "__init__"}

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        return any(
            n == target or (n not in seen and reaches(n, target, seen | {n}))
            for n in graph.get(start, ())
        )

    cycles = [m for m in graph if reaches(m, m, {m})]
    assert not cycles, {m: graph[m] for m in cycles}
    assert "hf" not in graph["vllm_server"] and "hf" not in graph["base"]


def test_backend_table_and_static_capabilities():
    assert backend_for("http://127.0.0.1:8000/v1?model=m").name == "vllm-server"
    assert backend_for(f"vllm:{converted_folder('smollm2-135m')}").name == "vllm-engine"
    with pytest.raises(ModelNotFoundError, match=r"config\.json"):
        backend_for("vllm:/models/x")
    assert backend_for("smollm2-135m").name == "hf"
    assert missing_capabilities("http://h:1/v1", frozenset({"hidden_states", "logprobs"})) == [
        "hidden_states"
    ]
    assert missing_capabilities("smollm2-135m", frozenset(CAPABILITIES)) == []


def test_a_missing_capability_is_one_error_naming_it(smollm2):
    from bayesmatrix.models.base import LanguageModel

    class ScoresOnly(LanguageModel):
        capabilities = frozenset({"logprobs"})

        def __init__(self) -> None:
            self.name, self.identity, self.tokenizer = "scores-only", "x", smollm2.tokenizer
            self.vocab_size, self.context_length = smollm2.vocab_size, 128
            self._init_tokens(smollm2.tokenizer)

    lm = ScoresOnly()
    for call, capability in (
        (lambda: lm.next_rows(["hi"]), "full_rows"),
        (lambda: lm.sample("hi", 2), "sampling"),
        (lambda: lm.forward_hidden([[1]]), "hidden_states"),
        (lambda: lm.trace("hi"), "topk_rows"),
    ):
        with pytest.raises(CapabilityError, match=f"capability '{capability}'"):
            call()
    assert lm.tokenize("hello") == smollm2.tokenize("hello")  # tokenisation is the base's


@pytest.mark.parametrize("name", ["smollm2", "gemma3"])
def test_the_torch_free_tokenizer_reads_what_transformers_reads(request, name):
    from bayesmatrix.models.reference import converted_folder
    from bayesmatrix.models.tokenizer import FastTokenizer

    lm = request.getfixturevalue(name)
    folder = converted_folder(lm.name)
    fast = FastTokenizer(folder)
    texts = ["The capital of France is", "  leading spaces\nand\ttabs", "émigré ☃ 1234", "a"]
    for text in texts:
        for special in (True, False):
            ours = fast(text, add_special_tokens=special, return_offsets_mapping=True)
            theirs = lm.tokenizer(text, add_special_tokens=special, return_offsets_mapping=True)
            assert ours.input_ids == list(theirs.input_ids)
            assert ours.offset_mapping == [tuple(o) for o in theirs.offset_mapping]
        ids = lm.tokenizer(text).input_ids
        assert fast.batch_decode([[i] for i in ids]) == lm.tokenizer.batch_decode(
            [[i] for i in ids]
        )
    assert (fast.bos_token_id, fast.eos_token_id, fast.pad_token_id) == (
        lm.tokenizer.bos_token_id,
        lm.tokenizer.eos_token_id,
        lm.tokenizer.pad_token_id,
    )
    assert len(fast) == len(lm.tokenizer)


def test_the_hf_paths_raise_no_library_deprecation_warning(embedded):
    """Every forward that reuses a KV cache (multi-token label words, sampling, streams)
    names the cache as this transformers names it: a deprecation the user cannot act on is
    not shown. The readings stay what a full forward pass gives."""
    import warnings

    ids = embedded.with_bos(embedded.encode("The capital of France is Paris, and of Italy"))
    word = embedded.encode(" Rome is")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logp = embedded.continuation_logprobs(ids, [(len(ids), word)])
        embedded.sample("The capital of France is", n=2, max_new_tokens=3, seed=1)
        stream = embedded.stream(ids, copies=2)
        stream.feed([[word[0]], [word[0]]])
    library = [
        str(w.message)
        for w in caught
        if issubclass(w.category, (DeprecationWarning, FutureWarning))
        and "transformers" in w.filename
    ]
    assert library == []
    whole = embedded.trace([*ids, *word], add_bos=False)
    assert logp[0] == pytest.approx(np.nansum(whole.logprob_next[len(ids) - 1 :]), abs=1e-4)


def test_one_model_has_one_identity_however_it_is_named(tmp_path):
    """By name, by its .gguf path, and as a copy of that file elsewhere: one identity (the
    weights' digest), so a model cannot be compared with itself under two names."""
    import shutil

    from bayesmatrix.models.reference import ModelRef, model_identity
    from bayesmatrix.models.registry import get_spec

    gguf = get_spec("smollm2-135m").path()
    copy = tmp_path / "renamed.gguf"
    shutil.copyfile(gguf, copy)
    named = model_identity("smollm2-135m")
    assert model_identity(str(gguf)) == named == model_identity(copy)
    assert model_identity("gemma3-270m") != named
    folder = converted_folder("smollm2-135m")
    assert model_identity(folder) == model_identity(f"vllm:{folder}").replace(
        "vllm-engine", "folder"
    )
    assert ModelRef.parse(copy).label == "renamed"
    copy.write_bytes(copy.read_bytes()[:-1] + b"\x01")  # another weight: another model
    assert model_identity(copy) != named
