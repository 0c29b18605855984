"""What the machine can hold: fail fast, with the estimate, before a job that cannot fit."""

from __future__ import annotations

import os

from bayesmatrix.errors import BayesmatrixError

# a job may plan to use at most this share of the memory available when it starts
MEMORY_SHARE = 0.7


def available_memory() -> int:
    """Bytes of memory available to new allocations (MemAvailable on Linux)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**27 else f"{n / 2**20:.0f} MiB"


def check_memory(need: float, what: str, fix: str) -> None:
    """Raise a one-line error when `need` bytes exceed the share of memory a job may plan on."""
    have = available_memory()
    if need > MEMORY_SHARE * have:
        raise BayesmatrixError(
            f"{what} needs about {gib(need)} of memory but {gib(have)} is available; {fix}"
        )
