"""The `?key=value&...` options of a model reference (a server URL, a learner), read one way:
every key known, none given twice, the text well formed; a bad one is one line naming the
reference's kind of option."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

from bayesmatrix.errors import ModelNotFoundError


def query_options(query: str, known: Mapping[str, str], what: str, example: str) -> dict[str, str]:
    """{key: text} of a query string; `what` names the options in messages ('model URL
    option'), `example` shows a well-formed reference."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise ModelNotFoundError(
            f"{what}s are key=value joined by &, not {query!r}; e.g. {example}"
        ) from None
    values: dict[str, str] = {}
    for key, text in pairs:
        if key not in known:
            raise ModelNotFoundError(f"{what} '{key}' is unknown; they are {', '.join(known)}")
        if key in values:
            raise ModelNotFoundError(f"{what} '{key}' is given twice; give it once")
        values[key] = text
    return values
