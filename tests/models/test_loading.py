"""Loading: named models, the conversion cache, and clear errors for what cannot load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import bayesmatrix
from bayesmatrix import ModelNotFoundError
from bayesmatrix.models.reference import converted_folder
from bayesmatrix.models.registry import get_spec
from tests.cli_helpers import run_cli


def test_unknown_name_lists_models():
    with pytest.raises(ModelNotFoundError, match="smollm2-135m, gemma3-270m"):
        bayesmatrix.load("no-such-model")


def test_uncached_hub_id_says_so():
    with pytest.raises(ModelNotFoundError, match="local Hugging Face cache"):
        bayesmatrix.load("nobody-here/definitely-not-a-model")


def test_missing_gguf_file(tmp_path):
    with pytest.raises(ModelNotFoundError, match="not found"):
        bayesmatrix.load(tmp_path / "missing.gguf")


def test_corrupt_gguf_is_refused_and_leaves_no_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BAYESMATRIX_CACHE", str(tmp_path / "cache"))
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(ModelNotFoundError, match="truncated or corrupt"):
        bayesmatrix.load(bad)
    converted = tmp_path / "cache" / "converted"
    assert not converted.exists() or not any(converted.iterdir())


def test_directory_without_config(tmp_path):
    with pytest.raises(ModelNotFoundError, match=r"without config\.json"):
        bayesmatrix.load(tmp_path)


@pytest.mark.slow
def test_cached_conversion_equals_direct_gguf_load(smollm2):
    """The cached safetensors give the same logits as transformers' own GGUF loader."""
    from transformers import AutoModelForCausalLM

    path = get_spec("smollm2-135m").path()
    folder = converted_folder("smollm2-135m")
    assert (folder / "model.safetensors").is_file()
    # the converted config names its architecture: vLLM picks its model class by it
    assert json.loads((folder / "config.json").read_text())["architectures"] == ["LlamaForCausalLM"]
    direct = AutoModelForCausalLM.from_pretrained(
        path.parent, gguf_file=path.name, dtype=torch.float32
    ).eval()
    ids = torch.tensor([smollm2.tokenize("Caching must not change a single weight.")[0]])
    with torch.no_grad():
        np.testing.assert_array_equal(direct(ids).logits.numpy(), smollm2.model(ids).logits.numpy())


@pytest.mark.slow
def test_cli_trace_outputs_agree_with_library(smollm2, tmp_path):
    import json

    import pandas as pd

    out, plot = tmp_path / "saved", tmp_path / "t.png"
    proc = run_cli(
        "trace",
        "smollm2-135m",
        "Two plus two is",
        "--json",
        "--out",
        str(out),
        "--plot",
        str(plot),
        "--top-k",
        "3",
        check=True,
    )
    records = json.loads(proc.stdout)
    trace = smollm2.trace("Two plus two is", top_k=3)
    np.testing.assert_allclose([r["entropy_nats"] for r in records], trace.entropy, atol=1e-6)
    assert [r["topk_tokens"] for r in records] == trace.topk_tokens
    saved = bayesmatrix.Trace.load(out)  # what `trace --out` writes, the library reads
    np.testing.assert_array_equal(saved.token_ids, trace.token_ids)
    np.testing.assert_allclose(saved.entropy, trace.entropy, atol=1e-6)
    assert len(pd.read_parquet(out / "trace.parquet")) == len(trace)
    assert plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["trace", "no-such-model", "hi"], "named models are"),
        (["trace", "smollm2-135m", ""], "prompt is empty"),
        (["trace", "smollm2-135m", "--file", "NONUTF8"], "not UTF-8"),
        (["trace", "smollm2-135m"], "exactly one"),
    ],
)
def test_cli_errors_are_one_line_exit_2(tmp_path, args, message):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9".encode("latin-1"))
    args = [str(bad) if a == "NONUTF8" else a for a in args]
    proc = run_cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
