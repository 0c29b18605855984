"""A model reference, parsed once and without torch: what it names, the backend that serves
it, where its weights are, and its identity, which is what a saved result depends on and is
the same however the model is named (by name, by its .gguf path, by the folder it was
converted to: the weights' digest).

| reference                              | kind    | backend     |
| -------------------------------------- | ------- | ----------- |
| `smollm2-135m`, `gemma3-270m`          | named   | hf          |
| `path/to/model.gguf`                   | gguf    | hf          |
| a folder with config.json              | folder  | hf          |
| `org/name` (in the local hub cache)    | hub     | hf          |
| `http(s)://host:port/v1?model=NAME`    | server  | vllm-server |
| `vllm:<model folder>`                  | engine  | vllm-engine |
| `learner:KIND?key=value`               | learner | learner     |

A served model's identity needs the server: what it reports about itself and its reading of a
fixed prompt (models.vllm_server.server_identity), so that another model served later under
the same URL and name is another identity.
"""

from __future__ import annotations

import hashlib
import os
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from bayesmatrix.errors import BayesmatrixError, ModelNotFoundError
from bayesmatrix.models.options import query_options
from bayesmatrix.models.registry import MODELS, get_spec, unknown_model

if TYPE_CHECKING:
    from bayesmatrix.models.backends import Backend

Kind = Literal["named", "gguf", "folder", "hub", "server", "engine", "learner"]
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")
SERVER_PREFIXES = ("http://", "https://")
ENGINE_PREFIX = "vllm:"
LEARNER_PREFIX = "learner:"
READ_TIMEOUT = 120.0  # seconds a request may wait for its reply (?timeout=S overrides)
CONNECT_TIMEOUT = 10.0  # seconds to open a connection (?connect_timeout=S overrides)
CONCURRENCY = 8  # requests in flight to one server (?concurrency=N overrides)
# how a served model's chosen tokens may be read (models.vllm_protocol.RUNGS describes each)
RUNG_NAMES = ("prompt-ids", "top-k", "generated-ids", "per-prompt")


@dataclass(frozen=True)
class ModelRef:
    """A parsed model reference: the text as given, its kind (see the module docstring),
    where it points (a file or folder path, a hub id, a URL, a learner specification) and a
    short label for progress lines and folder names."""

    text: str
    kind: Kind
    location: str
    label: str

    @classmethod
    def parse(cls, reference: str | os.PathLike[str] | ModelRef) -> ModelRef:
        """Classify a reference; one that names nothing loadable is one clear error."""
        if isinstance(reference, ModelRef):
            return reference
        if not isinstance(reference, str | os.PathLike):
            raise ModelNotFoundError(
                f"a model reference is a name, path or URL (text), not {type(reference).__name__}"
            )
        text = os.fspath(reference)
        if "\x00" in text:
            raise ModelNotFoundError("the model reference contains a NUL byte; pass a name or path")
        if not text.strip():
            raise ModelNotFoundError("the model reference is empty; pass a name, path or URL")
        if text in MODELS:
            return cls(text, "named", str(get_spec(text).path()), text)
        if text.startswith(SERVER_PREFIXES):
            served = parse_server(text).model  # a bad URL or option fails here, before any work
            return cls(text, "server", text, served or text)
        if text.startswith(ENGINE_PREFIX):
            folder = Path(engine_options(text)[0]).expanduser()
            if not (folder / "config.json").is_file():
                raise ModelNotFoundError(
                    f"{text} must name a model folder with config.json (e.g. a converted GGUF: "
                    "~/.cache/bayesmatrix/converted/...)"
                )
            return cls(text, "engine", str(folder.resolve()), folder.name)
        if text.startswith(LEARNER_PREFIX):
            from bayesmatrix.models.learner_spec import LearnerSpec

            LearnerSpec.parse(text)
            return cls(text, "learner", text, text)
        path = Path(text).expanduser()
        if path.suffix == ".gguf" or path.is_file():
            if not path.is_file():
                raise ModelNotFoundError(f"GGUF file not found: {path}; check the path")
            return cls(text, "gguf", str(path.resolve()), path.stem)
        if path.is_dir():
            if not (path / "config.json").is_file():
                raise ModelNotFoundError(
                    f"{path} is a directory without config.json; point at a directory written "
                    "by save_pretrained (or a trained wind-tunnel model)"
                )
            return cls(text, "folder", str(path.resolve()), path.name)
        if text.count("/") == 1 and not text.startswith((".", "/", "~")):
            return cls(text, "hub", text, text)
        raise unknown_model(text)

    def __str__(self) -> str:
        return self.text

    @property
    def backend(self) -> Backend:
        """The backend that serves this kind of reference."""
        from bayesmatrix.models.backends import backend_of_kind

        return backend_of_kind(self.kind)

    @property
    def gguf(self) -> Path | None:
        """The GGUF file of a named model or a .gguf reference (None otherwise)."""
        return Path(self.location) if self.kind in ("named", "gguf") else None

    def identity(self) -> str:
        """What a result computed with this model depends on: the weights' digest for a
        file or folder (the same for a name, its .gguf path, and a copy elsewhere), the
        server's own description and a probe reading for a served model, the parameters of a
        learner by construction. A served model's needs a connection: Loader.identity
        (models.loading) asks the server."""
        if self.kind in ("named", "gguf"):
            return f"gguf:{content_digest(Path(self.location))}"
        if self.kind == "folder":
            return f"folder:{folder_digest(Path(self.location))}"
        if self.kind == "engine":
            return f"vllm-engine:{folder_digest(Path(self.location))}"
        if self.kind == "hub":
            return f"folder:{folder_digest(hub_folder(self.location))}"
        if self.kind == "learner":
            from bayesmatrix.models.learner_spec import LearnerSpec

            return LearnerSpec.parse(self.location).canonical()
        raise BayesmatrixError(
            f"{self.text} is served: its identity is read from the server (Loader.identity)"
        )


OPTIONS = {
    "model": "the served model's name (needed when the server serves several)",
    "tokenizer": "a folder or hub id whose tokenizer the served model uses",
    "max_logprobs": "the server's --max-logprobs, when it cannot be probed (-1: none)",
    "concurrency": f"requests in flight at once ({CONCURRENCY})",
    "rung": "how chosen tokens are read: " + ", ".join(RUNG_NAMES),
    "timeout": f"seconds a request may wait for its reply ({READ_TIMEOUT:g})",
    "connect_timeout": f"seconds to open a connection ({CONNECT_TIMEOUT:g})",
}


@dataclass(frozen=True)
class ServerOptions:
    """A server reference parsed and checked: its base URL (ending in /v1) and options."""

    base: str
    model: str | None = None
    tokenizer: str | None = None
    max_logprobs: int | None = None
    concurrency: int = CONCURRENCY
    rung: str | None = None
    timeout: float = READ_TIMEOUT
    connect_timeout: float = CONNECT_TIMEOUT


def parse_server(reference: str, model: str | None = None) -> ServerOptions:
    """The options of a server reference, each checked; a bad one is one line saying what
    the option takes."""
    try:
        parts = urllib.parse.urlsplit(reference)
        port = parts.port
    except ValueError as exc:
        raise ModelNotFoundError(f"model URL {reference!r} is malformed ({exc})") from None
    if not parts.hostname:
        raise ModelNotFoundError(
            f"model URL {reference!r} names no host; write http://HOST:PORT/v1"
        )
    del port  # parsed only to check it
    values = query_options(
        parts.query, OPTIONS, "model URL option", "http://127.0.0.1:8000/v1?model=NAME&timeout=60"
    )
    base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    if not base.endswith("/v1"):
        base += "/v1"
    chosen = ServerOptions(base, model or values.get("model") or None, values.get("tokenizer"))
    numbers: dict[str, object] = {}
    for key, kind, low in (
        ("max_logprobs", int, -1),
        ("concurrency", int, 1),
        ("timeout", float, 0.1),
        ("connect_timeout", float, 0.1),
    ):
        if key in values:
            try:
                number = kind(values[key])
            except ValueError:
                number = None
            if number is None or number != number or not low <= number <= 10**6:
                raise BayesmatrixError(
                    f"model URL option {key}={values[key]!r}: {OPTIONS[key]}; give "
                    f"{'an integer' if kind is int else 'a number of seconds'} of at least {low}"
                )
            numbers[key] = number
    rung = values.get("rung")
    if rung is not None and rung not in RUNG_NAMES:
        raise BayesmatrixError(
            f"model URL option rung={rung!r}: choose from {', '.join(RUNG_NAMES)}"
        )
    # the keys were checked against OPTIONS and each value parsed to its field's type
    return replace(chosen, rung=rung, **numbers)  # type: ignore[arg-type]


def engine_options(reference: str) -> tuple[str, bool]:
    """(model folder, eager) of a `vllm:<folder>[?eager=1]` reference."""
    body = reference.removeprefix("vllm:")
    folder, _, query = body.partition("?")
    eager = False
    for part in filter(None, query.split("&")):
        key, _, value = part.partition("=")
        if key != "eager" or value not in ("0", "1", "true", "false"):
            raise ModelNotFoundError(f"vllm engine option {part!r}: the only option is eager=0|1")
        eager = value in ("1", "true")
    return folder, eager


def converted_folder(reference: str | os.PathLike[str]) -> Path:
    """The folder a named model or .gguf file is converted to (made by its first load)."""
    from bayesmatrix.models.paths import gguf_cache_dir

    gguf = ModelRef.parse(reference).gguf
    if gguf is None:
        raise ModelNotFoundError(f"{reference} is not a GGUF model; it has no converted folder")
    return gguf_cache_dir(gguf)


def backend_for(reference: str | os.PathLike[str] | ModelRef) -> Backend:
    """The backend that serves a model reference."""
    return ModelRef.parse(reference).backend


def missing_capabilities(
    reference: str | os.PathLike[str] | ModelRef, required: Iterable[str]
) -> list[str]:
    """What a claim requires that the reference's backend can never give (sorted)."""
    return sorted(set(required) - backend_for(reference).capabilities)


def parameter_count(reference: str | os.PathLike[str] | ModelRef) -> int | None:
    """The number of parameters of a model whose weights are on disk (a folder's safetensors
    headers, or a GGUF's converted folder once converted); None when not known without
    loading (a served model, a learner, a GGUF not yet converted)."""
    import json
    import struct

    ref = ModelRef.parse(reference)
    if ref.gguf is not None:
        from bayesmatrix.models.paths import gguf_cache_dir

        folder = gguf_cache_dir(ref.gguf)
    elif ref.kind in ("folder", "engine"):
        folder = Path(ref.location)
    else:
        return None
    total = 0
    weights = sorted(folder.glob("*.safetensors"))
    for path in weights:
        try:
            with open(path, "rb") as f:
                (size,) = struct.unpack("<Q", f.read(8))
                header = json.loads(f.read(size))
        except (OSError, ValueError, struct.error):
            return None
        for name, entry in header.items():
            if name != "__metadata__":
                count = 1
                for dim in entry["shape"]:
                    count *= int(dim)
                total += count
    return total or None


def model_identity(reference: str | os.PathLike[str] | ModelRef) -> str:
    """ModelRef.parse(reference).identity()."""
    return ModelRef.parse(reference).identity()


def hub_folder(hub_id: str) -> Path:
    """The local snapshot folder of a hub id in the Hugging Face cache (never downloads)."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(hub_id, local_files_only=True))
    except Exception as exc:  # huggingface_hub raises several types for a missing snapshot
        raise ModelNotFoundError(
            f"'{hub_id}' is neither a named model ({', '.join(MODELS)}), a path, nor a hub id in "
            "the local Hugging Face cache; this machine has no network, so download it "
            "elsewhere and copy the cache, or pass a local directory"
        ) from exc


def folder_digest(folder: Path) -> str:
    """A digest of a model folder's config and weight files' contents."""
    parts = sorted(
        f"{f.name}:{content_digest(f)}"
        for f in folder.iterdir()
        if f.is_file() and (f.name == "config.json" or f.suffix in WEIGHT_SUFFIXES)
    )
    if not parts:
        raise ModelNotFoundError(f"{folder} holds no config.json or weight files")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def content_digest(path: Path) -> str:
    """sha256 (16 hex digits) of a file's content, remembered in the cache under the file's
    path, size and modification time, so a weights file is read whole once, not per run."""
    from bayesmatrix.models.paths import cache_root
    from bayesmatrix.results.store import file_digest

    try:
        stat = path.stat()
    except OSError as exc:
        raise ModelNotFoundError(f"cannot read {path}: {exc.strerror or exc}") from None
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    try:
        memo = cache_root() / "digests" / hashlib.sha256(key.encode()).hexdigest()[:24]
        if memo.is_file():
            return memo.read_text().strip()
    except (OSError, BayesmatrixError):
        memo = None
    try:
        found = file_digest(path)
    except OSError as exc:
        raise ModelNotFoundError(f"cannot read {path}: {exc.strerror or exc}") from None
    if memo is not None:
        try:
            from bayesmatrix.results.io import write_text

            write_text(memo, found + "\n")
        except OSError:  # a read-only cache only costs the next run a re-read
            pass
    return found
