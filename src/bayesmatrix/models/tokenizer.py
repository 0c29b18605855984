"""A model folder's tokenizer without torch: its tokenizer.json read by the `tokenizers`
library, behind the few calls the LanguageModel interface makes (the same ids, offsets and
decodings as transformers' fast tokenizer, which a test checks). A thin client of a served
model then needs neither torch nor transformers; a folder without tokenizer.json falls back
to transformers."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bayesmatrix.errors import ModelNotFoundError


@dataclass
class Encoded:
    input_ids: list[int]
    offset_mapping: list[tuple[int, int]]


class FastTokenizer:
    """tokenizers.Tokenizer with the transformers calls LanguageModel uses."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        config = _json(folder / "tokenizer_config.json") | _json(folder / "special_tokens_map.json")
        self.bos_token_id = self._id(config.get("bos_token"))
        self.eos_token_id = self._id(config.get("eos_token"))
        self.pad_token_id = self._id(config.get("pad_token"))

    def _id(self, token: Any) -> int | None:
        content = token.get("content") if isinstance(token, dict) else token
        return None if content is None else self._tok.token_to_id(content)

    def __call__(
        self, text: str, add_special_tokens: bool = True, return_offsets_mapping: bool = False
    ) -> Encoded:
        encoding = self._tok.encode(text, add_special_tokens=add_special_tokens)
        return Encoded(list(encoding.ids), [(int(a), int(b)) for a, b in encoding.offsets])

    def decode(self, ids: list[int]) -> str:
        return self._tok.decode([int(i) for i in ids], skip_special_tokens=False)

    def batch_decode(self, batch: list[list[int]]) -> list[str]:
        return [self.decode(ids) for ids in batch]

    def __len__(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


def _converted(reference: str | os.PathLike[str]) -> Path | None:
    """The converted folder of a named or GGUF model, when its conversion is already cached."""
    from bayesmatrix.errors import BayesmatrixError
    from bayesmatrix.models.reference import converted_folder

    try:
        folder = converted_folder(reference)
    except BayesmatrixError:
        return None
    return folder if (folder / "tokenizer.json").is_file() else None


def load_tokenizer(name_or_path: str | os.PathLike[str]) -> Any:
    """The tokenizer of a model folder, or of a named or GGUF model already converted
    (torch-free when it has tokenizer.json), or of any other model reference through
    transformers."""
    folder = Path(name_or_path).expanduser()
    if not (folder / "tokenizer.json").is_file():
        folder = _converted(name_or_path) or folder
    if (folder / "tokenizer.json").is_file():
        try:
            return FastTokenizer(folder)
        except Exception as exc:  # tokenizers raises its own types for a bad file
            raise ModelNotFoundError(f"could not read {folder / 'tokenizer.json'}: {exc}") from exc
    from bayesmatrix.models.hf_load import load_tokenizer as hf_tokenizer

    return hf_tokenizer(name_or_path)[0]
