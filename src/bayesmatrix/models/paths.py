"""Where models live on this machine, without importing torch: the cache folder and the
float32 conversion of a GGUF file (models.hf_load writes it)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from bayesmatrix.errors import BayesmatrixError

# 2: the converted config declares its architecture (vLLM loads Gemma as a causal LM)
CACHE_VERSION = "2"


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


def gguf_cache_dir(path: Path) -> Path:
    """The conversion cache of a GGUF file, keyed by its path, size and modification time."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{CACHE_VERSION}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_root() / "converted" / f"{path.stem}-{digest}"
