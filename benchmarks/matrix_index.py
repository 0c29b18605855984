"""The ideal-matrix index on a 20M+ token corpus, side by side with EleutherAI's tokengrams on
the same token file: build throughput, `row` latency for 10-token contexts, bytes per token.

Claims (issue targets): build >= 1M tokens/s, row median <= 2 ms and p99 <= 50 ms,
<= 10 bytes/token on disk; and (Ray, issue #15) runs of files tokenised and shards indexed as
parallel Ray tasks on this machine's CPUs >= 1.8x the serial build with the same shard size,
writing the same files byte for byte.
Corpus: Python 3.11's documentation sources (Debian python3.11-doc) plus the .py files of the
standard library and of this environment's site-packages, in SmolLM2's tokenizer.
Run: .venv/bin/python benchmarks/matrix_index.py [--tokens 20000000] [--out runs/bench-matrix]
     [--shard-tokens 4194304] [--no-ray]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np

from bayesmatrix.experiments.icl.tasks import builtin_tasks, get_task
from bayesmatrix.matrix import IdealMatrix, build
from bayesmatrix.matrix.corpus import python_docs

CHARS_PER_TOKEN = 3.5


def corpus(tokens: int) -> list[Path]:
    """Docs first, then source files, until about `tokens` tokens' worth of characters."""
    files = python_docs()
    size = sum(f.stat().st_size for f in files)
    for root in (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"]):
        for f in sorted(Path(root).rglob("*.py")):
            if size >= tokens * CHARS_PER_TOKEN * 1.1:
                return files
            try:
                f.read_bytes().decode("utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            files.append(f)
            size += f.stat().st_size
    return files


def contexts(matrix: IdealMatrix, n: int, seed: int = 0) -> list[list[int]]:
    """Half cut from the corpus (long matches: the deepest searches), half from the shipped
    ICL task sentences (text the corpus does not contain)."""
    rng = np.random.default_rng(seed)
    tokens = matrix.index.tokens
    out = [
        np.asarray(tokens[p : p + 10]).tolist()
        for p in rng.integers(0, matrix.index.n_tokens - 10, n // 2)
    ]
    texts = [text for name in builtin_tasks() for text, _ in get_task(name).examples]
    ids = matrix.tokenizer(" ".join(texts), add_special_tokens=False).input_ids
    out += [ids[p : p + 10] for p in rng.integers(0, len(ids) - 10, n - n // 2)]
    return out


def latency(fn, queries: list[list[int]]) -> tuple[float, float]:
    """Median and p99 in ms over the queries (after one warm-up pass over 50 of them)."""
    for q in queries[:50]:
        fn(q)
    times = []
    for q in queries:
        start = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - start)
    ms = np.array(times) * 1e3
    return float(np.median(ms)), float(np.percentile(ms, 99))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=20_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-matrix"))
    parser.add_argument("--shard-tokens", type=int, default=1 << 22, help="for the Ray part")
    parser.add_argument("--no-ray", action="store_true", help="skip the serial-vs-Ray builds")
    args = parser.parse_args()
    files = corpus(args.tokens)
    print(f"corpus: {len(files)} files, {sum(f.stat().st_size for f in files) / 1e6:.1f} MB")
    matrix, stats = build(files, "smollm2-135m", args.out / "index", overwrite=True)
    index = matrix.index
    n = stats.tokens
    print(f"tokens: {n:,} in {len(index.shards)} shard(s)")
    rows = [
        ("tokenise (HF fast tokenizer)", stats.tokenize_seconds),
        ("index: suffix arrays + count tables", stats.index_seconds),
        ("tokenise + index", stats.tokenize_seconds + stats.index_seconds),
        ("prior fit (2,000 positions)", stats.fit_seconds),
    ]
    try:
        import tokengrams
    except ImportError:
        tokengrams = None
    tg = None
    if tokengrams is not None:
        tg_dir = args.out / "tokengrams"
        shutil.rmtree(tg_dir, ignore_errors=True)
        tg_dir.mkdir(parents=True)
        shutil.copy(index.path / "tokens.bin", tg_dir / "tokens.bin")
        start = time.perf_counter()
        tg = tokengrams.MemmapIndex.build(
            str(tg_dir / "tokens.bin"), str(tg_dir / "table.idx"), vocab=index.vocab_size
        )
        rows.append(("tokengrams MemmapIndex.build (same tokens)", time.perf_counter() - start))
    print(f"\n{'build step':44s} {'seconds':>8s} {'tokens/s':>12s}")
    for name, sec in rows:
        print(f"{name:44s} {sec:8.1f} {n / sec:12,.0f}")
    ours_bytes = index.disk_bytes / n
    print(f"\nbytes per token on disk: bayesmatrix {ours_bytes:.2f} (target <= 10)", end="")
    if tg is not None:
        tg_bytes = sum(f.stat().st_size for f in (args.out / "tokengrams").iterdir()) / n
        print(f", tokengrams {tg_bytes:.2f} (tokens + 8-byte suffix table)", end="")
    print()

    queries = contexts(matrix, args.queries)
    print(f"\nlatency over {len(queries)} 10-token contexts (ms)      median      p99")
    results = {
        "row: all suffix counts + posterior row": latency(lambda q: matrix.row(q), queries),
        "counts of every matched suffix only": latency(lambda q: index.levels(q), queries),
        "row with Kneser-Ney (order 5)": latency(lambda q: matrix.row(q, "kn"), queries[:300]),
    }
    if tg is not None:
        results["tokengrams count_next, longest context only"] = latency(tg.count_next, queries)

        def every_suffix(q: list[int]) -> None:
            for k in range(1, len(q) + 1):
                tg.count_next(q[len(q) - k :])

        results["tokengrams count_next, every suffix"] = latency(every_suffix, queries[:300])
    for name, (med, p99) in results.items():
        print(f"  {name:46s} {med:8.2f} {p99:8.2f}")
    med, p99 = results["row: all suffix counts + posterior row"]
    tput = n / (stats.tokenize_seconds + stats.index_seconds)
    print(
        f"\ntargets: build {tput / 1e6:.2f}M tok/s (>= 1M: {'met' if tput >= 1e6 else 'NOT met'}), "
        f"index step alone {n / stats.index_seconds / 1e6:.1f}M tok/s; row median {med:.2f} ms "
        f"(<= 2: {'met' if med <= 2 else 'NOT met'}), p99 {p99:.2f} ms "
        f"(<= 50: {'met' if p99 <= 50 else 'NOT met'}); {ours_bytes:.2f} bytes/token "
        f"(<= 10: {'met' if ours_bytes <= 10 else 'NOT met'})"
    )
    if tg is not None:
        tg_med = results["tokengrams count_next, every suffix"][0]
        ours = results["counts of every matched suffix only"][0]
        print(
            f"ratio: counts after every suffix, tokengrams / ours (median) = {tg_med / ours:.1f}x"
        )
    if not args.no_ray:
        parallel_build(files, args.out, args.shard_tokens)


def parallel_build(files: list[Path], out: Path, shard_tokens: int) -> None:
    """The serial build and the Ray build (local instance, this machine's CPUs) with the same
    shard size, side by side: wall time, ratio, and whether every file is the same."""
    from bayesmatrix.executor import RayExecutor

    executor = RayExecutor()
    start = time.perf_counter()
    executor.connect()
    ray_start = time.perf_counter() - start
    walls, stats = {}, {}
    for name, ex in (("serial", None), ("ray", executor)):
        start = time.perf_counter()
        _, stats[name] = build(
            files, "smollm2-135m", out / f"index-{name}", shard_tokens, True, executor=ex
        )
        walls[name] = time.perf_counter() - start
    a, b = out / "index-serial", out / "index-ray"
    same = all((a / f.name).read_bytes() == (b / f.name).read_bytes() for f in a.iterdir())
    same = same and sorted(f.name for f in a.iterdir()) == sorted(f.name for f in b.iterdir())
    shards = len(list(a.glob("sa-*.bin")))
    print(
        f"\nparallel build, {stats['serial'].tokens:,} tokens in {shards} shards of "
        f"{shard_tokens:,}, {os.cpu_count()} CPUs (Ray start-up {ray_start:.1f} s, not counted)"
    )
    for name in walls:
        st = stats[name]
        print(
            f"  {name:7s} wall {walls[name]:6.1f} s (tokenise {st.tokenize_seconds:5.1f} s, "
            f"index {st.index_seconds:5.1f} s, prior fit {st.fit_seconds:4.1f} s)"
        )
    ratio = walls["serial"] / walls["ray"]
    print(
        f"  speed-up serial / ray = {ratio:.2f}x (target >= 1.8: "
        f"{'met' if ratio >= 1.8 else 'NOT met'}); files identical: {same}"
    )
    one, every = (tokenise_seconds(threads) for threads in ("1", None))
    print(
        f"  the serial build's tokeniser already uses every core: Python docs tokenised in "
        f"{one:.1f} s with RAYON_NUM_THREADS=1, {every:.1f} s by default ({one / every:.2f}x)"
    )


TOKENISE = """
import time
from bayesmatrix.matrix.corpus import python_docs, tokenized_documents
from bayesmatrix.models.hf_load import load_tokenizer
tokenizer, _ = load_tokenizer("smollm2-135m")
start = time.perf_counter()
sum(len(ids) for ids, _ in tokenized_documents(python_docs(), tokenizer))
print(time.perf_counter() - start)
"""


def tokenise_seconds(rayon_threads: str | None) -> float:
    """Serial tokenisation of the Python docs in a fresh process (the Rust thread pool's size
    is fixed at its first use), with RAYON_NUM_THREADS set or not."""
    env = {k: v for k, v in os.environ.items() if k != "RAYON_NUM_THREADS"}
    if rayon_threads:
        env["RAYON_NUM_THREADS"] = rayon_threads
    done = subprocess.run(
        [sys.executable, "-c", TOKENISE], env=env, capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
