"""Where independent units of work run: here, one after another (LocalExecutor), or as Ray
tasks on a local instance or a cluster (RayExecutor).

A unit of work (a `Job`) is a pure function of its arguments: an ICL cell, a claim on a model,
a wind-tunnel run, a matrix shard. The caller decides which jobs are still missing (finished
work is on disk) and what to do with each result as it arrives (`on_done`, always in the
driver, so results land in the same directory layout whichever executor ran them). Jobs that
load a model use a kept loader (models.loading.Loader.kept), which keeps the last model
loaded in each worker process, so a worker loads a model once, not once per job.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from bayesmatrix.errors import BayesmatrixError

EXECUTORS = ("local", "ray")
GIB = 2**30


@dataclass(frozen=True)
class Resources:
    """What one job asks of the scheduler (Ray's logical resources; memory in bytes)."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0
    memory: int = 0


@dataclass(frozen=True)
class Job:
    """One unit of work: key names it in progress lines and errors."""

    key: str
    fn: Callable[..., Any]
    args: tuple = ()
    resources: Resources = field(default_factory=Resources)


class JobsFailed(BayesmatrixError):
    """Some jobs failed after their retries; every other job finished and was saved."""

    def __init__(self, failures: Sequence[tuple[str, str]]):
        self.failures = list(failures)
        lines = "; ".join(f"{key}: {why}" for key, why in self.failures[:5])
        more = f" (and {len(self.failures) - 5} more)" if len(self.failures) > 5 else ""
        super().__init__(
            f"{len(self.failures)} job(s) failed after retries, all others are saved "
            f"(rerun to retry only these): {lines}{more}"
        )


Progress = Callable[[str], None]
OnDone = Callable[[Job, Any], None]


class Executor(Protocol):
    """Runs jobs and hands each result to on_done in the driver as it arrives."""

    name: str

    def run(self, jobs: Sequence[Job], on_done: OnDone, progress: Progress | None = None) -> None:
        """Run every job; raise JobsFailed naming the jobs that could not be finished."""
        ...


class LocalExecutor:
    """Jobs in this process, in order; an error stops the run at once (as a plain loop)."""

    name = "local"

    def run(self, jobs: Sequence[Job], on_done: OnDone, progress: Progress | None = None) -> None:
        with models_released():
            for job in jobs:
                on_done(job, job.fn(*job.args))
                if progress:
                    progress(job.key)


class RayExecutor:
    """Jobs as Ray tasks. address None starts a local instance (num_cpus of this machine
    unless given), "auto" joins the running cluster (`ray start --head`), anything else is
    a cluster address. A task whose worker dies (killed, out of memory) is retried up to
    max_retries times; errors raised by a job's own code are not retried (they would fail
    again) and are reported by job once every other job has finished."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        max_retries: int = 3,
        num_cpus: int | None = None,
    ):
        self.address = address
        self.max_retries = max_retries
        self.num_cpus = num_cpus

    def __repr__(self) -> str:
        return f"RayExecutor(address={self.address!r}, max_retries={self.max_retries})"

    def connect(self) -> Any:
        """Start or join Ray once per process; the ray module."""
        ray = import_ray()
        if self.address not in (None, "auto"):
            _probe(self.address)  # ray.init retries an unreachable address for minutes
        if ray.is_initialized():
            return ray
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if self.address is None:
            kwargs["num_cpus"] = self.num_cpus or os.cpu_count()
        else:
            kwargs["address"] = self.address
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
            where = self.address or "a local instance"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BayesmatrixError(
                f"cannot reach Ray at {where}: {first}; start a cluster with `ray start --head` "
                "and pass --ray-address auto, or leave --ray-address out to start a local one"
            ) from exc
        return ray

    def run(self, jobs: Sequence[Job], on_done: OnDone, progress: Progress | None = None) -> None:
        if not jobs:
            return
        ray = self.connect()
        call = ray.remote(_call)
        pending = {}
        for job in jobs:
            options: dict[str, Any] = {
                "num_cpus": job.resources.num_cpus,
                "num_gpus": job.resources.num_gpus,
                "max_retries": self.max_retries,
                "retry_exceptions": False,
                "name": job.key[:100],
            }
            if job.resources.memory:
                options["memory"] = job.resources.memory
            pending[call.options(**options).remote(job.fn, *job.args)] = job
        failures: list[tuple[str, str]] = []
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    job = pending.pop(ref)
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:
                        failures.append((job.key, _reason(exc)))
                        continue
                    except ray.exceptions.RayError as exc:  # worker died past its retries
                        failures.append((job.key, f"{type(exc).__name__}: {_first_line(exc)}"))
                        continue
                    on_done(job, result)
                    if progress:
                        progress(job.key)
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        if failures:
            raise JobsFailed(failures)


def _probe(address: str, timeout: float = 5.0) -> None:
    """Fail in seconds, with one line, when nothing listens at a Ray address (host:port)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise BayesmatrixError(
            f"--ray-address {address!r} is not host:port (e.g. 10.0.0.5:6379) or auto"
        )
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise BayesmatrixError(
            f"cannot reach Ray at {address}: {exc.strerror or exc}; check the head node's "
            "address (`ray status` there), or leave --ray-address out to start a local one"
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _reason(exc: Any) -> str:
    """The job's own error (a BayesmatrixError says what to do) from a RayTaskError."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {_first_line(cause)}"
    return _first_line(exc)


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """A job in a Ray worker: Ctrl-C in the driver cancels tasks; the worker ignores SIGINT
    itself so a terminal's Ctrl-C reaches the driver only."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return fn(*args)


def import_ray() -> Any:
    """The ray module, or a clear line naming the extra that installs it."""
    try:
        import ray
    except ImportError as exc:
        raise BayesmatrixError(
            "the Ray executor needs Ray: pip install 'bayesmatrix[ray]' (or pip install ray)"
        ) from exc
    return ray


def make_executor(name: str, address: str | None = None) -> Executor:
    """An executor from its CLI name: 'local' or 'ray' (address: see RayExecutor)."""
    if name == "local":
        if address is not None:
            raise BayesmatrixError("--ray-address needs --executor ray")
        return LocalExecutor()
    if name == "ray":
        import_ray()
        return RayExecutor(address)
    raise BayesmatrixError(f"unknown executor '{name}'; choose from {', '.join(EXECUTORS)}")


T = TypeVar("T")

# ---- one model per worker process ---------------------------------------------------------------
_MODEL: dict[tuple[str, str], Any] = {}


def worker_model(load: Callable[[str], Any], name: str) -> Any:
    """load(name), kept for the next job of this process (one model at a time, so a worker
    that moves to another model frees the last one). The key is the loader's repr (a Loader
    shows its device and dtype) and the name (models.loading.Loader.kept uses this)."""
    key = (repr(load), name)
    if key not in _MODEL:
        _MODEL.clear()
        _MODEL[key] = load(name)
    return _MODEL[key]


def release_models() -> None:
    """Forget the kept model (the local executor calls this when its run ends)."""
    _MODEL.clear()


def releasing_models(fn: Callable[..., T]) -> Callable[..., T]:
    """`fn` run inside models_released (a front door that keeps its model between claims)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        with models_released():
            return fn(*args, **kwargs)

    return wrapper


@contextmanager
def models_released() -> Iterator[None]:
    """Forget, on leaving, the model kept inside: a run that keeps its model between claims
    must not hold it in memory after it returns. A model an outer job keeps (a Ray worker's)
    outlives the run."""
    outer = bool(_MODEL)
    try:
        yield
    finally:
        if not outer:
            release_models()
