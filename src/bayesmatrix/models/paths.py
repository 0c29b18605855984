"""Where models live, without importing torch: classify a model reference, the conversion
cache, and a model's identity (what a saved result depends on)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from bayesmatrix.errors import BayesmatrixError, ModelNotFoundError
from bayesmatrix.models.registry import MODELS, get_spec, unknown_model

CACHE_VERSION = "1"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")


def cache_root() -> Path:
    """Where converted models and corpora live: $BAYESMATRIX_CACHE or ~/.cache/bayesmatrix.
    A path at or below a file fails at once, naming the variable to set."""
    env = os.environ.get("BAYESMATRIX_CACHE")
    root = Path(env) if env else Path.home() / ".cache" / "bayesmatrix"
    existing = next((p for p in (root, *root.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise BayesmatrixError(
            f"the cache folder {root} cannot be used: {existing} is a file; set "
            "BAYESMATRIX_CACHE to a folder"
        )
    return root


def writable_cache(sub: str) -> Path:
    """A folder of the cache that can be written, checked before a long conversion starts."""
    import tempfile

    folder = cache_root() / sub
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise BayesmatrixError(
            f"the cache folder {folder} cannot be written ({exc.strerror or exc}); set "
            "BAYESMATRIX_CACHE to a writable folder with room for the converted model"
        ) from None
    return folder


def resolve(name_or_path: str | os.PathLike[str]) -> tuple[str, Path | str, str]:
    """Classify a model reference as ('gguf', path), ('dir', path) or ('hub', id) with a label."""
    ref = str(name_or_path)
    if "\x00" in ref:
        raise ModelNotFoundError("the model reference contains a NUL byte; pass a name or path")
    if ref in MODELS:
        return "gguf", get_spec(ref).path(), ref
    if ref.startswith(("http://", "https://", "vllm:")):
        return "remote", ref, ref
    if ref.startswith("learner:"):  # a learner by construction (models.learners), checked
        from bayesmatrix.models.learner_spec import LearnerSpec

        LearnerSpec.parse(ref)
        return "learner", ref, ref
    path = Path(ref).expanduser()
    if path.suffix == ".gguf" or path.is_file():
        if not path.is_file():
            raise ModelNotFoundError(f"GGUF file not found: {path}; check the path")
        return "gguf", path, path.stem
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"{path} is a directory without config.json; point at a directory written by "
                "save_pretrained (or a trained wind-tunnel model)"
            )
        return "dir", path, path.name
    if ref.count("/") == 1 and not ref.startswith((".", "/")):
        return "hub", ref, ref
    raise unknown_model(ref)


def gguf_cache_dir(path: Path) -> Path:
    """The conversion cache of a GGUF file, keyed by its path, size and modification time."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{CACHE_VERSION}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_root() / "converted" / f"{path.stem}-{digest}"


def _file_stamp(path: Path) -> str:
    stat = path.stat()
    return f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"


def model_identity(name_or_path: str | os.PathLike[str]) -> str:
    """A short string that changes whenever the model's weights or configuration change:
    the file's path, size and mtime for GGUF; those of config and weight files for a
    directory; the id for a hub model (its cached snapshot is immutable)."""
    kind, where, label = resolve(name_or_path)
    if kind in ("hub", "remote", "learner"):
        return f"{kind}:{where}"
    path = Path(where)
    if kind == "gguf":
        stamps = [_file_stamp(path)]
    else:
        stamps = sorted(
            _file_stamp(f)
            for f in path.iterdir()
            if f.name == "config.json" or f.suffix in WEIGHT_SUFFIXES
        )
    digest = hashlib.sha256("|".join([str(path.resolve()), *stamps]).encode()).hexdigest()
    return f"{kind}:{label}:{digest[:16]}"
