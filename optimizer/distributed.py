"""Where many independent solves run: this process, a local process pool, or a Dask cluster.

One small executor interface, three back-ends:
- `InProcess`: one task after another in the calling process (`--workers 1`);
- `ProcessPool`: `concurrent.futures` worker processes on this machine (the default);
- `DaskCluster`: a `dask.distributed` cluster, either a `LocalCluster` started here
  (`--scheduler local`) or a running scheduler that users started with `dask scheduler` /
  `dask worker` (`--scheduler tcp://host:8786`).

`run_tasks` drives any of them the same way: results stream back as tasks finish, a task
that raises or whose worker dies is reported and retried once (never silently dropped),
and every task ends as exactly one `Outcome`. Nothing here knows what a task computes.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import time
from abc import ABC, abstractmethod
from collections import deque
from concurrent.futures import FIRST_COMPLETED, CancelledError, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import InputError, Problem, SolveFailure

LOCAL = "local"
RETRIES = 1  # a failed task is tried once more, then reported as failed
CONNECT_SECONDS = 10.0  # waiting for a remote scheduler to answer
WORKER_WAIT_SECONDS = 60.0  # waiting for a scheduler with no worker to get one


@dataclass(frozen=True)
class Task:
    """One unit of work: `function(*args)`, run wherever the executor puts it."""

    key: str
    function: Callable[..., Any]
    args: tuple = ()


@dataclass
class Outcome:
    """How a task ended: its value, or the error of its last try (after the retry)."""

    key: str
    value: Any = None
    error: str | None = None
    attempts: int = 1
    failures: list[str] = field(default_factory=list)  # the error of every failed try
    worker_seconds: float = 0.0  # wall time the successful try took where it ran
    worker_cpu_seconds: float = 0.0  # CPU time (user+sys) of that try in its worker process

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Progress:
    """Counts shown on every progress line."""

    total: int
    done: int = 0
    failed: int = 0  # tasks finished without a value (after their retry)
    retried: int = 0
    started: float = field(default_factory=time.perf_counter)
    at: float | None = None  # a snapshot's moment (None: now)

    @property
    def elapsed(self) -> float:
        return (self.at or time.perf_counter()) - self.started

    def snapshot(self) -> "Progress":
        """The counts as they are now, kept as they are (events carry one)."""
        return dataclasses.replace(self, at=time.perf_counter())

    @property
    def seconds_left(self) -> float | None:
        """Remaining time at the rate so far (None before the first task finishes)."""
        if not self.done:
            return None
        return self.elapsed / self.done * (self.total - self.done)

    def text(self) -> str:
        left = self.seconds_left
        eta = "" if left is None or self.done == self.total else f", ~{_duration(left)} left"
        return f"[{self.done}/{self.total}, failures {self.failed}{eta}]"


@dataclass(frozen=True)
class Event:
    """Something the caller may show: a task finished (`done`), is tried again (`retry`), or
    the cluster says something happened to it (`notice`, e.g. its worker left)."""

    kind: str  # "done" | "retry" | "notice"
    key: str
    progress: Progress
    outcome: Outcome | None = None  # for "done"
    error: str | None = None  # for "retry" and "notice": what went wrong
    row: dict | None = None  # what the caller made of a finished task (e.g. its sweep.csv row)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 120:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 120:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class TaskError(RuntimeError):
    """A task's own exception, as text: any exception crosses process and machine boundaries
    this way, whether or not it can be pickled."""


def timed_call(function: Callable[..., Any], args: tuple) -> tuple[Any, tuple[float, float]]:
    """Runs on the worker: the task's value and the (wall, CPU) seconds it took there."""
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        value = function(*args)
    except Exception as exc:
        raise TaskError(error_text(exc)) from None
    return value, (time.perf_counter() - wall, time.process_time() - cpu)


def error_text(exc: BaseException) -> str:
    if isinstance(exc, TaskError):
        return str(exc)
    name = type(exc).__name__
    text = str(exc).strip()
    return f"{name}: {text}" if text else name


# -- executors ------------------------------------------------------------------------------


class Executor(ABC):
    """Runs tasks somewhere and hands back each one as it finishes.

    `slots` is how many tasks are handed over at once (None: all of them, the executor
    queues them itself). `submit` returns a handle; `next_done` blocks until some handed-over
    task finished and returns (handle, value, (wall, CPU) seconds on the worker, error text or None).
    """

    name: str = "executor"
    slots: int | None = None

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @abstractmethod
    def submit(self, task: Task) -> Any: ...

    @abstractmethod
    def next_done(self) -> tuple[Any, Any, float, str | None]: ...

    def notices(self) -> list[tuple[str, str]]:
        """(task key, text) of what happened to handed-over tasks without ending them (e.g. a
        lost worker whose tasks the cluster runs again by itself), since the last call."""
        return []

    def close(self) -> None:
        """Release workers and connections (idempotent)."""

    def describe(self) -> str:
        return self.name


class InProcess(Executor):
    """Each task in the calling process, one after another."""

    name = "in-process"
    slots = 1

    def __init__(self) -> None:
        self._queue: deque[tuple[int, Task]] = deque()
        self._next = 0

    def submit(self, task: Task) -> int:
        self._next += 1
        self._queue.append((self._next, task))
        return self._next

    def next_done(self):
        handle, task = self._queue.popleft()
        try:
            value, seconds = timed_call(task.function, task.args)
        except Exception as exc:  # reported and retried by run_tasks
            return handle, None, (0.0, 0.0), error_text(exc)
        return handle, value, seconds, None


def clean_context():
    """Worker processes that never ran HiGHS: its thread pool does not survive a fork of a
    process that has solved before. A fork server started from a fresh interpreter (with the
    solver stack imported once) gives clean workers quickly; where there is none, spawn."""
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["stockpile.api", "stockpile.solver", "pyomo.environ", "highspy"])
        return ctx
    return multiprocessing.get_context("spawn")


class ProcessPool(Executor):
    """`workers` processes on this machine (concurrent.futures).

    Only as many tasks as workers are handed over at a time, so that when a worker process
    dies (the pool then stops every worker) exactly the tasks that were running are charged
    with the failure; the pool is started anew for the rest.
    """

    name = "process pool"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.slots = workers
        self._pool: ProcessPoolExecutor | None = None
        self._pending: set = set()

    def describe(self) -> str:
        return f"process pool of {self.workers} workers"

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=clean_context())
        return self._pool

    def submit(self, task: Task):
        try:
            future = self._ensure_pool().submit(timed_call, task.function, task.args)
        except BrokenProcessPool:  # a worker died since the last hand-over: start a new pool
            self._restart()
            future = self._ensure_pool().submit(timed_call, task.function, task.args)
        self._pending.add(future)
        return future

    def next_done(self):
        done, _ = wait(self._pending, return_when=FIRST_COMPLETED)
        future = next(iter(done))
        self._pending.discard(future)
        try:
            value, seconds = future.result()
        except (BrokenProcessPool, CancelledError) as exc:
            self._restart()
            return future, None, (0.0, 0.0), f"its worker process stopped ({error_text(exc)})"
        except Exception as exc:
            return future, None, (0.0, 0.0), error_text(exc)
        return future, value, seconds, None

    def _restart(self) -> None:
        """A broken pool accepts no more work: shut it down; the next submit starts a new one."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskCluster(Executor):
    """A dask.distributed cluster: a LocalCluster started here, or a running scheduler.

    Every task goes to the scheduler at once; it places them on free workers. A task whose
    worker dies comes back as `KilledWorker` and is retried by `run_tasks`. The LocalCluster
    is started with `allowed-failures: 0` (the scheduler itself does not re-run a task lost
    with its worker, so that every loss is seen and reported here) and `worker-saturation:
    1.0` (a worker holds only the task it runs, so a dying worker takes no queued task with it).
    """

    name = "dask"
    slots = None

    def __init__(self, scheduler: str = LOCAL, workers: int | None = None) -> None:
        try:
            import distributed
        except ImportError as exc:  # pragma: no cover - dask[distributed] is a dependency
            raise SolveFailure("the Dask back-end needs dask.distributed: pip install 'dask[distributed]'") from exc
        import dask

        self.scheduler = scheduler
        self._cluster = None
        self._ac = None
        if scheduler == LOCAL:
            n = workers or os.cpu_count() or 1
            with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                                  "distributed.scheduler.worker-saturation": 1.0}):
                # only this machine's loopback, on free ports: no clash with other users' clusters
                self._cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                                         host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                                         silence_logs=50)  # losses are reported by run_tasks
            self.client = distributed.Client(self._cluster, set_as_default=False)
        else:
            try:
                self.client = distributed.Client(scheduler, timeout=CONNECT_SECONDS, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise SolveFailure(f"cannot reach the Dask scheduler at {scheduler} ({error_text(exc)}); "
                                   "start one with `dask scheduler` and workers with "
                                   f"`dask worker {scheduler}`, or use --scheduler local") from exc
            try:
                self.client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
            except (TimeoutError, OSError) as exc:
                self.close()
                raise SolveFailure(f"the Dask scheduler at {scheduler} has no worker after "
                                   f"{WORKER_WAIT_SECONDS:.0f}s; start some with `dask worker {scheduler}`") from exc
            self._check_workers()
        self._ac = distributed.as_completed(loop=self.client.loop)
        self._tasks: dict[str, str] = {}  # Dask key -> task key
        self._removed: deque[dict] = deque()  # worker-removal events, appended by the client's thread
        self.client.subscribe_topic("all", self._on_cluster_event)

    def _on_cluster_event(self, event) -> None:
        _, message = event
        if isinstance(message, dict) and message.get("action") == "remove-worker":
            self._removed.append(message)

    def notices(self) -> list[tuple[str, str]]:
        """A worker left: Dask runs again the results it held (and, when the scheduler allows
        failures, the tasks it was running) without telling the task's future; say so."""
        found = []
        while self._removed:
            message = self._removed.popleft()
            worker = message.get("worker", "a worker")
            for what, keys in (("was solving", message.get("processing-tasks")),
                               ("held the finished result of", message.get("lost-computed-tasks"))):
                for key in keys or ():
                    if key in self._tasks:
                        found.append((self._tasks[key], f"worker {worker} left; it {what} this task"))
        return found

    def describe(self) -> str:
        workers = self.client.scheduler_info().get("workers", {})
        where = "local Dask cluster" if self.scheduler == LOCAL else f"Dask scheduler {self.scheduler}"
        return f"{where} with {len(workers)} workers"

    def _check_workers(self) -> None:
        """Every worker must run the same stockpile and solver versions as this process:
        a point solved elsewhere with another HiGHS could give another plan."""
        from importlib.metadata import version

        wanted = {name: version(name) for name in ("stockpile", "highspy", "pyomo")}
        for name, here in wanted.items():
            found = self.client.run(version, name, on_error="return")
            for worker, there in sorted(found.items()):
                if isinstance(there, BaseException):
                    self.close()
                    raise SolveFailure(f"Dask worker {worker} has no {name} installed ({error_text(there)}); "
                                       "install stockpile on every worker (pip install it in the workers' "
                                       "environment) and start them again")
                if there != here:
                    self.close()
                    raise SolveFailure(f"Dask worker {worker} has {name} {there}, this machine {here}; "
                                       "install the same version on every worker")

    def submit(self, task: Task):
        future = self.client.submit(timed_call, task.function, task.args, key=f"{task.key}-{_token()}",
                                    pure=False)
        self._tasks[future.key] = task.key
        self._ac.add(future)
        return future

    def next_done(self):
        future = next(self._ac)
        try:
            value, seconds = future.result()
        except Exception as exc:  # KilledWorker (its worker died) or the task's own error
            text = error_text(exc)
            if type(exc).__name__ == "KilledWorker":
                text = f"its worker died ({text})"
            return future, None, (0.0, 0.0), text
        finally:
            future.release()
        return future, value, seconds, None

    def close(self) -> None:
        if getattr(self, "client", None) is not None:
            self.client.close()
            self.client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def _token() -> str:
    return os.urandom(4).hex()


def make_executor(scheduler: str | None = None, workers: int | None = None, tasks: int | None = None) -> Executor:
    """The executor for the CLI options: no scheduler -> process pool (or in-process with one
    worker); `local` -> a LocalCluster of `workers` processes; an address -> that scheduler.

    workers defaults to min(tasks, CPU cores); a remote cluster has the workers it has.
    """
    default = min(tasks or os.cpu_count() or 1, os.cpu_count() or 1)
    if scheduler is None:
        n = workers or default
        return InProcess() if n <= 1 or tasks == 1 else ProcessPool(n)
    scheduler = scheduler.strip()
    if not scheduler:
        raise InputError(Problem("--scheduler: expected 'local' or a scheduler address such as tcp://host:8786"))
    if scheduler == LOCAL:
        return DaskCluster(LOCAL, workers or default)
    if workers is not None:
        raise InputError(Problem(f"--workers applies to the process pool and --scheduler local; the cluster at "
                                 f"{scheduler} has the workers started for it (dask worker {scheduler})"))
    return DaskCluster(scheduler)


# -- running --------------------------------------------------------------------------------


def run_tasks(executor: Executor, tasks: list[Task], on_event: Callable[[Event], None] | None = None,
              retries: int = RETRIES) -> dict[str, Outcome]:
    """Run every task on the executor; each ends as one Outcome (by key), none is dropped.

    A task that raises or whose worker dies is reported (a `retry` event) and handed over
    again, up to `retries` more times; then it is an Outcome with its error.
    """
    keys = [t.key for t in tasks]
    if len(set(keys)) != len(keys):
        raise ValueError("task keys must be unique")
    by_key = {t.key: t for t in tasks}
    outcomes: dict[str, Outcome] = {t.key: Outcome(t.key, attempts=0) for t in tasks}
    progress = Progress(total=len(tasks))
    waiting: deque[str] = deque(keys)
    running: dict[Any, str] = {}

    def hand_over() -> None:
        while waiting and (executor.slots is None or len(running) < executor.slots):
            key = waiting.popleft()
            outcomes[key].attempts += 1
            running[executor.submit(by_key[key])] = key

    def emit(kind: str, key: str, **details) -> None:
        if on_event is not None:
            on_event(Event(kind, key, progress.snapshot(), **details))

    def notify() -> None:
        for key, text in executor.notices():
            emit("notice", key, error=text)

    hand_over()
    while running:
        handle, value, seconds, error = executor.next_done()
        notify()
        key = running.pop(handle)
        outcome = outcomes[key]
        if error is not None:
            outcome.failures.append(error)
            if outcome.attempts <= retries:
                progress.retried += 1
                emit("retry", key, error=error)
                waiting.appendleft(key)  # first in line, so a retried task does not wait behind all
                hand_over()
                continue
            outcome.error = error
            progress.failed += 1
        else:
            outcome.value = value
            outcome.worker_seconds, outcome.worker_cpu_seconds = seconds
        progress.done += 1
        emit("done", key, outcome=outcome)
        hand_over()
    notify()
    return outcomes

