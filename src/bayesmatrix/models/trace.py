"""Trace: what one prompt looks like through a model, position by position.

Row i is the model's next-token distribution after reading token_ids[: i + 1]; it predicts
token_ids[i + 1], so logprob_next[i] is NaN at the last position (nothing follows).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bayesmatrix.errors import BayesmatrixError

LN2 = float(np.log(2.0))


@dataclass(repr=False)
class Trace:
    """Rows of a model's next-token matrix along one token sequence.

    Shapes: n = number of tokens, k = top_k, V = vocabulary, d = hidden size.
    token_ids [n] as the model saw them (bos_added says whether token 0 is a BOS the tokenizer
    or caller added), tokens [n] decoded strings, logprob_next [n] (nats, NaN at the end),
    entropy [n] (nats), topk_ids/topk_probs [n, k], rows [n, V] or None,
    hidden {layer: [n, d]} (layer indices as in transformers' hidden_states; the last is
    after the final norm).
    """

    model: str
    token_ids: np.ndarray
    tokens: list[str]
    bos_added: bool
    logprob_next: np.ndarray
    entropy: np.ndarray
    topk_ids: np.ndarray
    topk_probs: np.ndarray
    topk_tokens: list[list[str]]
    rows: np.ndarray | None = None
    hidden: dict[int, np.ndarray] = field(default_factory=dict)
    # [n, 2] lower and upper entropy (nats) when only top-k rows were read (entropy is NaN)
    entropy_bounds: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.token_ids)
        if n == 0:
            raise BayesmatrixError("a trace needs at least one token")
        checks = {
            "tokens": len(self.tokens),
            "logprob_next": len(self.logprob_next),
            "entropy": len(self.entropy),
            "topk_ids": len(self.topk_ids),
            "topk_probs": len(self.topk_probs),
            "topk_tokens": len(self.topk_tokens),
        }
        if self.rows is not None:
            checks["rows"] = len(self.rows)
        checks.update({f"hidden[{k}]": len(v) for k, v in self.hidden.items()})
        bad = {k: v for k, v in checks.items() if v != n}
        if bad:
            raise ValueError(f"trace fields disagree with {n} tokens: {bad}")

    def __len__(self) -> int:
        return len(self.token_ids)

    def __repr__(self) -> str:
        extra = (["rows"] if self.rows is not None else []) + [
            f"hidden{sorted(self.hidden)}"
        ] * bool(self.hidden)
        return (f"Trace({self.model}, {len(self)} tokens, top_k={self.top_k}"
                + "".join(f", {e}" for e in extra) + ")")  # fmt: skip

    def _repr_html_(self) -> str:
        """A table in Jupyter: one row per token (user text escaped); the figure is
        `bayesmatrix.viz.plot_trace(trace)`."""
        from html import escape

        frame = self.to_frame()
        head = ("<tr><th>pos</th><th>token</th><th>next</th><th>p(next)</th><th>H bits</th>"
                f"<th>top-{self.top_k}</th></tr>")  # fmt: skip
        body = []
        for row in frame.itertuples():
            alts = ", ".join(
                f"{escape(repr(t))} {p:.2f}"
                for t, p in zip(row.topk_tokens, row.topk_probs, strict=True)
            )
            last = row.next_token is None
            body.append(
                f"<tr><td>{row.position}</td><td>{escape(repr(row.token))}</td>"
                f"<td>{'' if last else escape(repr(row.next_token))}</td>"
                f"<td>{'' if last else f'{row.p_next:.3f}'}</td>"
                f"<td>{row.entropy_bits:.2f}</td><td>{alts}</td></tr>"
            )
        caption = f"<caption>{escape(repr(self))}</caption>"
        return f"<table class='bayesmatrix-trace'>{caption}{head}{''.join(body)}</table>"

    @property
    def entropy_bits(self) -> np.ndarray:
        """Entropy of each row in bits."""
        return self.entropy / LN2

    @property
    def surprisal_bits(self) -> np.ndarray:
        """-log2 p(actual next token) at each position (NaN at the end)."""
        return -self.logprob_next / LN2

    @property
    def top_k(self) -> int:
        return self.topk_ids.shape[1]

    def to_frame(self) -> pd.DataFrame:
        """One row per position: token, the actual next token and its probability, entropy,
        and the top-k alternatives as list columns."""
        next_ids = np.append(self.token_ids[1:], -1)
        next_tokens = [*self.tokens[1:], None]
        return pd.DataFrame(
            {
                "position": np.arange(len(self)),
                "token_id": self.token_ids,
                "token": self.tokens,
                "next_token_id": next_ids,
                "next_token": next_tokens,
                "logprob_next": self.logprob_next,
                "p_next": np.exp(self.logprob_next),
                "surprisal_bits": self.surprisal_bits,
                "entropy_nats": self.entropy,
                "entropy_bits": self.entropy_bits,
                "topk_ids": list(self.topk_ids),
                "topk_tokens": self.topk_tokens,
                "topk_probs": list(self.topk_probs.astype(np.float64)),
            }
        )

    def save(self, directory: str | Path) -> Path:
        """Write trace.parquet (the frame), arrays.npz (rows, hidden) and meta.json."""
        import io

        from bayesmatrix.results.io import write_bytes, write_json, write_parquet

        out = Path(directory)
        write_parquet(self.to_frame(), out / "trace.parquet")
        arrays: dict[str, np.ndarray] = {f"hidden_{k}": v for k, v in self.hidden.items()}
        if self.rows is not None:
            arrays["rows"] = self.rows
        if self.entropy_bounds is not None:
            arrays["entropy_bounds"] = self.entropy_bounds
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy stubs: **kwds as bool
        write_bytes(out / "arrays.npz", buffer.getvalue())
        write_json(
            out / "meta.json", {"model": self.model, "bos_added": self.bos_added, "format": 1}
        )
        return out

    @classmethod
    def load(cls, directory: str | Path) -> Trace:
        """Read a trace written by save()."""
        src = Path(directory)
        if not (src / "meta.json").is_file() or not (src / "trace.parquet").is_file():
            raise BayesmatrixError(f"{src} is not a saved trace (meta.json/trace.parquet missing)")
        meta = json.loads((src / "meta.json").read_text())
        frame = pd.read_parquet(src / "trace.parquet")
        rows, bounds, hidden = None, None, {}
        with np.load(src / "arrays.npz") as arrays:
            for key in arrays.files:
                if key == "rows":
                    rows = arrays[key]
                elif key == "entropy_bounds":
                    bounds = arrays[key]
                else:
                    hidden[int(key.removeprefix("hidden_"))] = arrays[key]
        return cls(
            model=meta["model"],
            token_ids=frame["token_id"].to_numpy(np.int64),
            tokens=list(frame["token"]),
            bos_added=bool(meta["bos_added"]),
            logprob_next=frame["logprob_next"].to_numpy(np.float64),
            entropy=frame["entropy_nats"].to_numpy(np.float64),
            topk_ids=np.stack(frame["topk_ids"].to_numpy()).astype(np.int64),
            topk_probs=np.stack(frame["topk_probs"].to_numpy()).astype(np.float32),
            topk_tokens=[list(t) for t in frame["topk_tokens"]],
            rows=rows,
            hidden=hidden,
            entropy_bounds=bounds,
        )
