"""Where sweep tasks run: local worker processes (default, every core) or a Dask cluster.

Both run `fn(*args)` tasks and yield `(task index, result)` as tasks finish. Local processes
take the tasks lazily from any iterable, a few per worker ahead (`streams`), so whoever makes
the tasks can make the next ones while the workers run these; Dask takes them all at once.
`share` turns a trace file into what a task receives: the path for local processes, the file's
bytes scattered to the workers for Dask (whose workers may not see the client's files). A lost
worker costs a bounded retry of its tasks, then a `RunFailure` (one line, exit status 3).
"""

from __future__ import annotations

import gc
import importlib
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sized
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
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
    streams: bool
    """True: `run` takes its tasks from the iterable as workers free up (the caller may make
    them lazily); False: it takes them all before the first runs."""

    def start(self) -> None:
        """Get the workers ready now (a run would otherwise start them)."""
        ...

    def share(self, path: Path) -> Any:
        """What a task gets in place of the trace file at `path`."""
        ...

    def run(self, fn: Callable[..., Any], tasks: Iterable[Task]) -> Iterator[tuple[int, Any]]:
        """`(index, fn(*task))` in order of completion; `index` counts the tasks in order."""
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


def _start_worker(parent: int, modules: tuple[str, ...]) -> None:
    """Pool initializer: watch the parent (`_watch_parent`), then import `modules` (the
    simulator), so a worker started early imports while its parent prepares the tasks.

    Then everything alive (the imported modules: numpy's, pydantic's, the simulator's objects)
    is moved out of the cyclic garbage collector's reach (`gc.freeze`): none of it is ever
    garbage, and each full collection would walk all of it again while a replay allocates; in
    this worker process only (a sweep run in-process leaves the caller's collector alone)."""
    _watch_parent(parent)
    for name in modules:
        importlib.import_module(name)
    gc.freeze()


def _ready() -> None:
    """A task that does nothing (it makes the pool start a worker process)."""
    return None


AHEAD = 2
"""Tasks a local pool holds per worker (running and queued): a worker that finishes one starts
the next at once, while its result travels back and the parent submits a new one."""

PRELOAD = ("rctsim.sweep.work",)
"""Modules a local worker imports as it starts (the simulator and its dependencies)."""


class LocalExecutor:
    """Worker processes on this machine (spawned, so safe beside threads); 1 runs in-process.

    Tasks are taken from the iterable as workers free up, AHEAD per worker submitted at a
    time. A worker that dies (killed, out of memory) breaks the pool and fails every unfinished
    task; those run again in a new pool (before any new task) while that makes progress, then
    one at a time, each at most MAX_RETRIES more times, so the task that kills its worker is
    found and the rest finish. Then the run stops with a RunFailure line."""

    streams = True

    def __init__(self, workers: int | None = None, *, retries: int = MAX_RETRIES,
                 preload: tuple[str, ...] = PRELOAD):
        if workers is not None and workers < 1:
            raise InputError("command line", "--workers", f"{workers}", "1 or more")
        self.workers = workers or available_cores()
        self.retries = retries
        self.preload = preload
        self.description = (f"{self.workers} local process{'es' if self.workers > 1 else ''}"
                            if self.workers > 1 else "1 in-process worker")
        self._pool: ProcessPoolExecutor | None = None
        self._idle = False
        """Whether the pool was started (`start`) and has run no task yet."""

    def share(self, path: Path) -> Any:
        """The path itself (workers share this file system)."""
        return str(path)

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker,
                                   initargs=(os.getpid(), self.preload))

    def start(self) -> None:
        """Start every worker process now; each imports the simulator (`preload`) while the
        caller goes on. Nothing for one worker (it runs in this process)."""
        if self.workers == 1 or self._pool is not None:
            return
        self._pool = self._new_pool()
        self._idle = True
        for _ in range(self.workers):  # a spawned pool starts one process per submit
            self._pool.submit(_ready)

    def run(self, fn: Callable[..., Any], tasks: Iterable[Task]) -> Iterator[tuple[int, Any]]:
        """Run in the pool, taking tasks as workers free up; in-process for one worker."""
        if self.workers == 1:
            for index, args in enumerate(tasks):
                yield index, fn(*args)
            return
        total = f" of {len(tasks)}" if isinstance(tasks, Sized) else ""
        source = iter(tasks)
        taken: list[Task] = []
        todo: list[int] = []
        while True:  # in parallel, as long as each new pool finishes some task
            lost, progressed = yield from self._attempt(fn, taken, todo, source)
            if not lost:
                return
            if progressed:
                todo = lost
                continue
            for index in lost:  # then alone, to tell the task that kills its worker from the rest
                for _ in range(self.retries):
                    again, _ = yield from self._attempt(fn, taken, [index], None)
                    if not again:
                        break
                else:
                    raise RunFailure("local worker lost", f"a worker process died (killed, or "
                                     f"out of memory) running task {index + 1}{total}, on "
                                     f"its own, after {self.retries} retries; from a Python "
                                     "script, put the sweep under `if __name__ == "
                                     "\"__main__\":` (worker processes re-import the script)")
            todo = []

    def _attempt(self, fn: Callable[..., Any], taken: list[Task], todo: list[int],
                 source: Iterator[Task] | None
                 ) -> Generator[tuple[int, Any], None, tuple[list[int], bool]]:
        """Run the tasks `todo` (indices into `taken`), then tasks taken from `source` (appended
        to `taken`) until it ends, at most AHEAD per worker submitted at a time; yield results.
        Return the tasks a broken pool lost (none: every task ran and `source` is exhausted)
        and whether any task finished."""
        if self._pool is None:
            self._pool = self._new_pool()
        pool = self._pool
        self._idle = False
        queue = deque(todo)
        running: dict[Future, int] = {}
        lost: list[int] = []
        progressed = broken = False

        def fill() -> None:
            nonlocal broken
            while not broken and len(running) < AHEAD * self.workers:
                if queue:
                    index = queue.popleft()
                elif source is not None:
                    args = next(source, None)
                    if args is None:
                        return
                    taken.append(args)
                    index = len(taken) - 1
                else:
                    return
                try:
                    running[pool.submit(fn, *taken[index])] = index
                except BrokenProcessPool:
                    lost.append(index)
                    broken = True

        try:
            fill()
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                results = []
                for future in sorted(done, key=running.__getitem__):
                    index = running.pop(future)
                    try:
                        results.append((index, future.result()))
                    except BrokenProcessPool:
                        lost.append(index)
                        broken = True
                fill()  # the workers have their next tasks before the caller handles these
                for result in results:
                    progressed = True
                    yield result
        finally:
            for future in running:
                future.cancel()
        if broken:
            lost += queue  # never submitted
            self._discard_pool()
        return sorted(lost), progressed

    def _discard_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        """Stop the pool, dropping tasks not yet started. Workers started for nothing (a
        sweep that found every point in its store) are ended at once, not waited for while
        they import."""
        if self._pool is not None:
            if self._idle:  # (the pool's own table of its processes; without it, wait)
                for process in list(getattr(self._pool, "_processes", {}).values()):
                    process.terminate()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            self._idle = False


@dataclass(frozen=True)
class SharedFile:
    """A trace file a Dask task receives as bytes (scattered to the workers, again if lost)."""

    path: Path


class DaskExecutor:
    """A Dask cluster through `dask.distributed` (optional extra `rctsim[dask]`).

    A task whose worker dies, or whose scattered trace bytes were lost with one, is submitted
    again (the bytes scattered again); when MAX_RETRIES rounds in a row finish no task, a
    RunFailure line. It takes all of a run's tasks at once (`streams` False): a sweep gives it
    one round of points at a time."""

    streams = False

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

    def start(self) -> None:
        """Nothing: the cluster's workers are already running."""

    def run(self, fn: Callable[..., Any], tasks: Iterable[Task]) -> Iterator[tuple[int, Any]]:
        """Submit every task; yield results as they complete; resubmit lost ones."""
        tasks = list(tasks)
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
