"""Where sweep tasks run: local worker processes (default, every core) or a Dask cluster.

Both run a list of `fn(*args)` tasks and yield `(task index, result)` as tasks finish. `share`
turns a trace file into what a task receives: the path for local processes, the file's bytes
scattered to the workers for Dask (whose workers may not see the client's files).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Protocol

from rctsim.errors import InputError

Task = tuple[Any, ...]


class Executor(Protocol):
    """Runs tasks and yields their results as they finish."""

    workers: int
    """Tasks that run at once."""
    description: str
    """For the summary (`2 local processes`, `dask tcp://...`)."""

    def share(self, path: Path) -> Any:
        """What a task gets in place of the trace file at `path`."""
        ...

    def run(self, fn: Callable[..., Any], tasks: Sequence[Task]) -> Iterator[tuple[int, Any]]:
        """`(index, fn(*tasks[index]))` in order of completion."""
        ...

    def close(self) -> None:
        """Release the workers."""
        ...


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class LocalExecutor:
    """Worker processes on this machine (spawned, so safe beside threads); 1 runs in-process."""

    def __init__(self, workers: int | None = None):
        if workers is not None and workers < 1:
            raise InputError("command line", "--workers", f"{workers}", "1 or more")
        self.workers = workers or available_cores()
        self.description = (f"{self.workers} local process{'es' if self.workers > 1 else ''}"
                            if self.workers > 1 else "1 in-process worker")
        self._pool: ProcessPoolExecutor | None = None

    def share(self, path: Path) -> Any:
        """The path itself (workers share this file system)."""
        return str(path)

    def run(self, fn: Callable[..., Any], tasks: Sequence[Task]) -> Iterator[tuple[int, Any]]:
        """Run in the pool; in-process for one worker."""
        if self.workers == 1:
            for index, args in enumerate(tasks):
                yield index, fn(*args)
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers,
                                             mp_context=multiprocessing.get_context("spawn"))
        futures: dict[Future, int] = {self._pool.submit(fn, *args): i
                                      for i, args in enumerate(tasks)}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        """Stop the pool, dropping tasks not yet started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor:
    """A Dask cluster through `dask.distributed` (optional extra `rctsim[dask]`)."""

    def __init__(self, cluster: str | Any, *, connect_timeout_s: float = 10.0):
        try:
            import distributed
        except ImportError:
            raise InputError("command line", "--dask", "dask.distributed is not installed",
                             "pip install 'rctsim[dask]'") from None
        self._distributed = distributed
        self._owned = isinstance(cluster, str)
        if isinstance(cluster, str):
            try:
                self.client = distributed.Client(cluster, timeout=f"{connect_timeout_s}s")
            except (OSError, TimeoutError, ValueError) as err:
                raise InputError("command line", "--dask", f"cannot reach {cluster}: {err}",
                                 "the tcp://HOST:PORT of a running dask scheduler") from None
        else:
            self.client = cluster
        self.workers = max(1, sum(self.client.nthreads().values()))
        self.description = f"dask {self.client.scheduler.address} ({self.workers} threads)"

    def share(self, path: Path) -> Any:
        """The file's bytes, scattered to every worker once."""
        return self.client.scatter(Path(path).read_bytes(), broadcast=True)

    def run(self, fn: Callable[..., Any], tasks: Sequence[Task]) -> Iterator[tuple[int, Any]]:
        """Submit every task; yield results as they complete."""
        futures = [self.client.submit(fn, *args, pure=False) for args in tasks]
        index = {future.key: i for i, future in enumerate(futures)}
        try:
            for future in self._distributed.as_completed(futures):
                yield index[future.key], future.result()
        finally:
            self.client.cancel(futures)

    def close(self) -> None:
        """Close the client if this executor opened it."""
        if self._owned:
            self.client.close()
