"""Load transformers models from names, GGUF files, local directories or cached hub ids.

GGUF files are dequantised to float32 by transformers (~20-45 s); the converted weights and
tokenizer are then cached as safetensors so later loads take well under a second.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel
from transformers.utils import logging as hf_logging

from bayesmatrix.errors import BayesmatrixError, ModelNotFoundError
from bayesmatrix.models.paths import gguf_cache_dir, writable_cache
from bayesmatrix.models.reference import ModelRef, hub_folder

hf_logging.disable_progress_bar()
hf_logging.set_verbosity_error()

log = logging.getLogger(__name__)


def _convert_gguf(path: Path, target: Path) -> None:
    """Dequantise a GGUF file with transformers and write weights, config and tokenizer."""
    from safetensors.torch import save_file
    from transformers.utils.quantization_config import GgufConfig

    log.info("converting %s (first load only; later loads use %s)", path, target)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(
            path.parent,
            gguf_file=path.name,
            dtype=torch.float32,
            quantization_config=GgufConfig(dequantize=True),
        )
    except Exception as exc:  # transformers raises many types for a bad file
        raise ModelNotFoundError(
            f"could not read GGUF file {path}: {type(exc).__name__}: {exc}. "
            "The file may be truncated or corrupt; reinstall the package that ships it "
            "or re-download the file"
        ) from exc
    config = model.config.to_dict()
    config.pop("quantization_config", None)
    # what the weights are (e.g. Gemma3ForCausalLM): a server such as vLLM picks its model
    # class by it, and without it took Gemma's folder for an embedding model
    config["architectures"] = [type(model).__name__]
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    try:
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        (tmp / "config.json").write_text(json.dumps(config, indent=1))
        tokenizer.save_pretrained(tmp)
        (tmp / "source.json").write_text(json.dumps({"gguf": str(path)}))
        try:
            tmp.rename(target)
        except OSError:  # another process finished first; its copy is equally good
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def local_dir(name_or_path: str | os.PathLike[str] | ModelRef) -> tuple[Path | str, str]:
    """(directory that transformers can load offline, label); a GGUF is converted once and
    cached."""
    ref = ModelRef.parse(name_or_path)
    if ref.gguf is not None:
        directory = gguf_cache_dir(ref.gguf)
        if not (directory / "model.safetensors").is_file():
            writable_cache("converted")  # before a minute of conversion, not after
            _convert_gguf(ref.gguf, directory)
        return directory, ref.label
    if ref.kind == "hub":
        return hub_folder(ref.location), ref.label
    if ref.kind != "folder":
        raise ModelNotFoundError(
            f"{ref} is served by the {ref.backend.name} backend, not loaded here"
        )
    return Path(ref.location), ref.label


def load_tokenizer(name_or_path: str | os.PathLike[str]) -> tuple[Any, str]:
    """(tokenizer, label) without loading the weights (after a GGUF's one-time conversion)."""
    directory, label = local_dir(name_or_path)
    try:
        return AutoTokenizer.from_pretrained(directory, local_files_only=True), label
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(f"could not load a tokenizer from {directory}: {exc}") from exc


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(device: str) -> torch.device:
    """ "auto" -> CUDA, then MPS, then CPU; an explicit device must exist here."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps" if mps is not None and mps.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError):
        raise BayesmatrixError(
            f"unknown device '{device}'; use cpu, cuda, cuda:N, mps or auto"
        ) from None
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            raise BayesmatrixError(
                f"device '{device}' asked for, but this machine has no usable CUDA GPU; use "
                "--device cpu (or auto)"
            )
        if chosen.index is not None and chosen.index >= torch.cuda.device_count():
            raise BayesmatrixError(
                f"device '{device}' does not exist: {torch.cuda.device_count()} CUDA device(s)"
            )
    elif chosen.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise BayesmatrixError("device 'mps' asked for, but MPS is not available here")
    elif chosen.type != "cpu":
        raise BayesmatrixError(f"unsupported device '{device}'; use cpu, cuda, cuda:N, mps or auto")
    return chosen


def resolve_dtype(dtype: str) -> torch.dtype:
    if dtype not in DTYPES:
        raise BayesmatrixError(f"unknown dtype '{dtype}'; choose from {', '.join(DTYPES)}")
    return DTYPES[dtype]


def load_hf(
    name_or_path: str | os.PathLike[str],
    device: str = "cpu",
    dtype: str = "float32",
    device_map: str | None = None,
) -> tuple[PreTrainedModel, object, str]:
    """Return (model in eval mode, tokenizer, label) for any supported model reference, with
    weights in `dtype` on `device` (or spread by `device_map="auto"`).

    A conversion cache whose files are damaged is ours: it is removed and rebuilt once from
    the GGUF file. Damaged files in a user's directory give one error line that names them."""
    placement: dict[str, Any] = {"device": resolve_device(device), "dtype": resolve_dtype(dtype)}
    if device_map not in (None, "auto"):
        raise BayesmatrixError(f"device_map must be None or 'auto', not {device_map!r}")
    placement["device_map"] = device_map
    directory, label = local_dir(name_or_path)
    try:
        return (*_load_dir(directory, **placement), label)
    except ModelNotFoundError:
        gguf = ModelRef.parse(name_or_path).gguf
        if gguf is None:
            raise
        log.warning("the converted copy in %s is damaged; converting %s again", directory, gguf)
        shutil.rmtree(directory, ignore_errors=True)
        directory, label = local_dir(name_or_path)
        return (*_load_dir(directory, **placement), label)


def _load_dir(
    directory: Path | str, device: torch.device, dtype: torch.dtype, device_map: str | None
) -> tuple[PreTrainedModel, object]:
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            directory, dtype=dtype, local_files_only=True, device_map=device_map
        )
    except Exception as exc:  # safetensors, json and transformers raise many types for bad files
        raise ModelNotFoundError(
            f"could not load the model in {directory}: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'unreadable'}; its weights or config "
            "may be truncated or corrupt: re-save or re-download them"
        ) from exc
    if device_map is None:
        model.to(device)  # type: ignore[arg-type]  # transformers' stubs wrap .to oddly
    model.eval()
    return model, tokenizer
