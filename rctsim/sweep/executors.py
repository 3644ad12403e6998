"""Where sweep tasks run: local worker processes (default, every core) or a Dask cluster.

Both run a list of `fn(*args)` tasks and yield `(task index, result)` as tasks finish. `share`
turns a trace file into what a task receives: the path for local processes, the file's bytes
scattered to the workers for Dask (whose workers may not see the client's files). A lost worker
costs a bounded retry of its tasks, then a `RunFailure` (one line, exit status 3).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rctsim.errors import InputError, RunFailure

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


MAX_RETRIES = 2
"""How many times in a row the tasks of a lost worker are run again before the run gives up."""

PARENT_POLL_S = 0.5
"""How often a local worker checks that the sweep that started it is still alive."""


def _watch_parent(parent: int) -> None:
    """Pool initializer: end this worker when its parent process is gone (kill -9 of the sweep
    leaves no orphans: a reparented worker sees another parent id within PARENT_POLL_S)."""
    import threading
    import time

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(PARENT_POLL_S)

    threading.Thread(target=watch, name="rctsim-parent-watch", daemon=True).start()


class LocalExecutor:
    """Worker processes on this machine (spawned, so safe beside threads); 1 runs in-process.

    A worker that dies (killed, out of memory) breaks the pool and fails every unfinished task;
    those run again in a new pool while that makes progress, then one at a time, each at most
    MAX_RETRIES more times, so the task that kills its worker is found and the rest finish.
    Then the run stops with a RunFailure line."""

    def __init__(self, workers: int | None = None, *, retries: int = MAX_RETRIES):
        if workers is not None and workers < 1:
            raise InputError("command line", "--workers", f"{workers}", "1 or more")
        self.workers = workers or available_cores()
        self.retries = retries
        self.description = (f"{self.workers} local process{'es' if self.workers > 1 else ''}"
                            if self.workers > 1 else "1 in-process worker")
        self._pool: ProcessPoolExecutor | None = None

    def share(self, path: Path) -> Any:
        """The path itself (workers share this file system)."""
        return str(path)

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_watch_parent, initargs=(os.getpid(),))

    def run(self, fn: Callable[..., Any], tasks: Sequence[Task]) -> Iterator[tuple[int, Any]]:
        """Run in the pool; in-process for one worker."""
        if self.workers == 1:
            for index, args in enumerate(tasks):
                yield index, fn(*args)
            return
        todo = list(range(len(tasks)))
        while todo:  # in parallel, as long as each new pool finishes some task
            lost = yield from self._attempt(fn, tasks, todo)
            if len(lost) == len(todo):
                break
            todo = lost
        for index in todo:  # then alone, to tell the task that kills its worker from the rest
            for _ in range(self.retries):
                lost = yield from self._attempt(fn, tasks, [index])
                if not lost:
                    break
            else:
                raise RunFailure("local worker lost", f"a worker process died (killed, or out "
                                 f"of memory) running task {index + 1} of {len(tasks)}, on "
                                 f"its own, after {self.retries} retries; from a Python "
                                 "script, put the sweep under `if __name__ == \"__main__\":` "
                                 "(worker processes re-import the script)")

    def _attempt(self, fn: Callable[..., Any], tasks: Sequence[Task],
                 todo: list[int]) -> Generator[tuple[int, Any], None, list[int]]:
        """Run `todo` in the pool, yielding results; return the tasks a broken pool lost."""
        if self._pool is None:
            self._pool = self._new_pool()
        futures: dict[Future, int] = {self._pool.submit(fn, *tasks[i]): i for i in todo}
        lost: list[int] = []
        try:
            for future in as_completed(futures):
                try:
                    result = future.result()
                except BrokenProcessPool:
                    lost.append(futures[future])
                    continue
                yield futures[future], result
        finally:
            for future in futures:
                future.cancel()
        if lost:
            self._discard_pool()
        return sorted(lost)

    def _discard_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        """Stop the pool, dropping tasks not yet started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


@dataclass(frozen=True)
class SharedFile:
    """A trace file a Dask task receives as bytes (scattered to the workers, again if lost)."""

    path: Path


class DaskExecutor:
    """A Dask cluster through `dask.distributed` (optional extra `rctsim[dask]`).

    A task whose worker dies, or whose scattered trace bytes were lost with one, is submitted
    again (the bytes scattered again); when MAX_RETRIES rounds in a row finish no task, a
    RunFailure line."""

    def __init__(self, cluster: str | Any, *, connect_timeout_s: float = 10.0,
                 retries: int = MAX_RETRIES):
        try:
            import distributed
        except ImportError:
            raise InputError("command line", "--dask", "dask.distributed is not installed",
                             "pip install 'rctsim[dask]'") from None
        self._distributed = distributed
        self._owned = isinstance(cluster, str)
        self.retries = retries
        if isinstance(cluster, str):
            try:
                self.client = distributed.Client(cluster, timeout=f"{connect_timeout_s}s")
            except (OSError, TimeoutError, ValueError) as err:
                raise InputError("command line", "--dask", f"cannot reach {cluster}: {err}",
                                 "the tcp://HOST:PORT of a running dask scheduler") from None
        else:
            self.client = cluster
        self.address = str(self.client.scheduler.address)
        if not self.client.nthreads():
            try:
                self.client.wait_for_workers(1, timeout=connect_timeout_s)
            except (TimeoutError, OSError):
                self.close()
                raise InputError("command line", "--dask", f"the scheduler {self.address} has "
                                 f"no workers (none joined within {connect_timeout_s:g} s)",
                                 "a scheduler with at least one dask worker") from None
        self.workers = max(1, sum(self.client.nthreads().values()))
        self.description = f"dask {self.address} ({self.workers} threads)"
        self._scattered: dict[Path, Any] = {}

    def share(self, path: Path) -> Any:
        """A handle the tasks get as the file's bytes (scattered on first use)."""
        return SharedFile(Path(path))

    def _resolve(self, args: Task, fresh: bool) -> Task:
        out = []
        for arg in args:
            if isinstance(arg, SharedFile):
                if fresh or arg.path not in self._scattered:
                    self._scattered[arg.path] = self.client.scatter(
                        arg.path.read_bytes(), broadcast=True)
                arg = self._scattered[arg.path]
            out.append(arg)
        return tuple(out)

    def run(self, fn: Callable[..., Any], tasks: Sequence[Task]) -> Iterator[tuple[int, Any]]:
        """Submit every task; yield results as they complete; resubmit lost ones."""
        lost_errors = self._lost_errors()
        todo = list(range(len(tasks)))
        strikes, fresh = 0, False
        while todo:
            futures = {self.client.submit(fn, *self._resolve(tasks[i], fresh), pure=False): i
                       for i in todo}
            by_key = {future.key: i for future, i in futures.items()}
            lost: list[int] = []
            last: BaseException | None = None
            try:
                for future in self._distributed.as_completed(list(futures)):
                    try:
                        result = future.result()
                    except lost_errors as err:
                        lost.append(by_key[future.key])
                        last = err
                        continue
                    yield by_key[future.key], result
            finally:
                self.client.cancel(list(futures))
            if not lost:
                return
            strikes = 1 if len(lost) < len(todo) else strikes + 1
            todo, fresh = sorted(lost), True
            if strikes > self.retries:
                raise RunFailure(f"dask {self.address}", f"a worker was lost and {len(todo)} "
                                 f"task(s) failed again after {self.retries} retries: "
                                 f"{type(last).__name__}: {last}")

    def _lost_errors(self) -> tuple[type[BaseException], ...]:
        """Exceptions that mean a worker or its data went away (not a task's own error)."""
        from concurrent.futures import CancelledError

        errors: list[type[BaseException]] = [CancelledError, OSError, TimeoutError]
        for module, name in (("distributed.scheduler", "KilledWorker"),
                             ("distributed.client", "FutureCancelledError"),
                             ("distributed.comm.core", "CommClosedError")):
            try:
                errors.append(getattr(__import__(module, fromlist=[name]), name))
            except (ImportError, AttributeError):
                continue
        return tuple(errors)

    def close(self) -> None:
        """Close the client if this executor opened it."""
        if self._owned:
            self.client.close()
