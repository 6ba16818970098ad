"""Running strangers' queries and page lookups: a pool of worker processes, each holding its
own store, with time and memory limits and admission lanes (admission.py).

Neither pyoxigraph 0.5 nor rdflib can cancel a running query, and a signal alarm only reaches
the main thread (../shared/notes/perf_baseline.md, sections 5-6). So every job runs in a worker
process; when it passes the time limit, uses more than WORKER_MEMORY_MB, or turns heavy while
the heavy lane is full, the worker is killed, a fresh one is started in the background, and the
client gets a 503 with Retry-After that names the limit. Other requests go on being served by
the other workers meanwhile.

The workers themselves are in worker.py, the lanes in admission.py.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

from fentanyl_kg.errors import QueryError
from fentanyl_kg.query import admission
from fentanyl_kg.query.jobs import Answer, Call, Failure, Job, Result
from fentanyl_kg.query.worker import HEAVY, WorkerSpec, memory_message

__all__ = ["Answer", "Call", "Failure", "Job", "Result", "WorkerPool", "WorkerSpec"]
log = logging.getLogger("fentanyl_kg.web")
WORKER_COMMAND = "from fentanyl_kg.query.worker import worker_main; worker_main()"
STARTUP_TIMEOUT = 900.0  # seconds a worker may take to load the store
POLL = 0.05  # seconds between looks at a busy worker (its answer, its memory, its lane)
RETRY_BUSY = 2  # Retry-After seconds when the workers or the queue are full


class WorkerCrashed(RuntimeError):
    """A worker died of an exception of its own: a bug, reported as a 500."""


@dataclass(eq=False)
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection
    stopped: bool = False


class WorkerPool:
    """`size` worker processes; `run` hands a job to an idle one and enforces the limits."""

    def __init__(self, spec: WorkerSpec, size: int, *, heavy: int = 1,
                 fast_lane: float = 0.5, queue_timeout: float = 5.0,
                 max_queue: int = 64) -> None:
        self.spec, self.size = spec, size
        self.fast_lane, self.queue_timeout, self.max_queue = fast_lane, queue_timeout, max_queue
        self.lanes = admission.Lanes(min(heavy, size))
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._alive: set[_Worker] = set()
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)  # notified when a job ends
        self._start_lock = threading.Lock()
        self._started = self._closed = False
        self._waiting = self._running = 0

    def start(self) -> None:
        """Start the workers and wait until they have loaded the store. `run` calls this on
        first use; the server calls it before it listens."""
        with self._start_lock:
            if self._started:
                return
            workers = [self._spawn() for _ in range(self.size)]
            problems = [p for p in map(self._await_ready, workers) if p is not None]
            ready = [w for w in workers if w in self._alive]
            for worker in ready:
                self._idle.put(worker)
            self._started = True
        for problem in problems:
            log.error("a query worker could not start: %s", problem)

    def run(self, job: Job | Call, timeout: float) -> Answer | Result | Failure:
        """Run `job` on an idle worker within `timeout` seconds, waiting included; a 503
        QueryError with Retry-After when a limit stops it."""
        started = time.monotonic()
        self.start()
        if self._closed:
            raise QueryError("The server is restarting; please try again shortly.", 503,
                             RETRY_BUSY)
        if not self._alive:
            raise QueryError("No query worker is running (see the server log).", 503,
                             RETRY_BUSY)
        retry = max(1, math.ceil(timeout))
        heavy = self.lanes.known(job)
        if heavy and not self.lanes.promote():
            raise self._lane_full(retry)
        try:
            worker = self._acquire(min(self.queue_timeout, timeout))
        except QueryError:
            if heavy:
                self.lanes.release()
            raise
        try:
            return self._run_on(worker, job, started + timeout, timeout, heavy)
        finally:
            with self._lock:
                self._running -= 1
                self._done.notify_all()

    def _lane_full(self, retry: int) -> QueryError:
        return QueryError(
            f"The query was stopped: it runs longer than {self.fast_lane:g} s "
            f"(FAST_LANE_SECONDS) and all {self.lanes.limit} slots for long-running queries "
            "(HEAVY_WORKERS) are taken. Please try again shortly, or make it more selective.",
            503, retry)

    def _acquire(self, wait: float) -> _Worker:
        with self._lock:
            if self._waiting >= self.max_queue:
                raise QueryError(f"{self._waiting} requests are already waiting for a query "
                                 f"worker (MAX_QUEUE); please try again shortly.", 503,
                                 RETRY_BUSY)
            self._waiting += 1
        try:
            worker = self._idle.get(timeout=wait)
        except queue.Empty:
            raise QueryError(f"All {self.size} query workers (QUERY_WORKERS) stayed busy for "
                             f"{wait:g} s (QUEUE_TIMEOUT); please try again shortly.", 503,
                             RETRY_BUSY) from None
        finally:
            with self._lock:
                self._waiting -= 1
        with self._lock:
            self._running += 1
        return worker

    def _run_on(self, worker: _Worker, job: Job | Call, deadline: float, timeout: float,
                heavy: bool) -> Answer | Result | Failure:
        """Send `job` to `worker` and watch it until it answers or a limit stops it; `heavy`:
        it holds a heavy slot already (a job known to be heavy)."""
        pid, sent, retry = worker.process.pid, time.monotonic(), max(1, math.ceil(timeout))
        try:
            worker.conn.send(job)
            if heavy:
                worker.conn.send(HEAVY)
            while not worker.conn.poll(max(0.0, min(POLL, deadline - time.monotonic()))):
                now = time.monotonic()
                if now >= deadline:
                    self._replace(worker)
                    raise QueryError(
                        f"The query was stopped after {timeout:g} s, this endpoint's time "
                        "limit (QUERY_TIMEOUT). Make it more selective (for example with LIMIT "
                        "or fewer unbound patterns), or load build/release/dataset.nq into a "
                        "store of your own.", 503, retry)
                if self.spec.memory_mb and admission.resident_mb(pid) > self.spec.memory_mb:
                    self._replace(worker)
                    raise QueryError(memory_message(self.spec.memory_mb), 503, retry)
                if not heavy and now - sent >= self.fast_lane:
                    self.lanes.remember(job)
                    if not self.lanes.promote():
                        self._replace(worker)
                        raise self._lane_full(retry)
                    heavy = True
                    worker.conn.send(HEAVY)
            reply: Answer | Result | Failure = worker.conn.recv()
        except (EOFError, OSError):
            self._replace(worker)
            raise self._died(worker, retry) from None
        finally:
            if heavy:
                self.lanes.release()
        if isinstance(reply, Failure) and reply.status == 503:  # out of memory inside
            self._replace(worker)
            return Failure(503, reply.message)
        self._idle.put(worker)
        return reply

    def _died(self, worker: _Worker, retry: int) -> Exception:
        code = worker.process.returncode
        if code is not None and code > 0:
            return WorkerCrashed(f"query worker {worker.process.pid} exited with {code}")
        if code in (-signal.SIGKILL, -signal.SIGABRT):  # the kernel's OOM killer; a failed
            return QueryError(memory_message(self.spec.memory_mb), 503, retry)  # allocation
        return QueryError(f"The worker running this query stopped unexpectedly (exit code "
                          f"{code}); please try a smaller query.", 503, retry)

    def status(self) -> dict[str, int]:
        """How many workers there should be, are alive, idle and heavy; requests waiting."""
        with self._lock:
            return {"workers": self.size, "alive": len(self._alive), "idle": self._idle.qsize(),
                    "heavy": self.lanes.heavy, "heavy_limit": self.lanes.limit,
                    "waiting": self._waiting}

    def close(self, drain: float = 0.0) -> None:
        """Stop taking jobs, wait up to `drain` seconds for those running, then stop every
        worker."""
        end = time.monotonic() + drain
        with self._lock:
            self._closed = True
            while self._running and time.monotonic() < end:
                self._done.wait(end - time.monotonic())
            workers, self._alive = list(self._alive), set()
        for worker in workers:
            self._stop(worker)

    def _spawn(self) -> _Worker:
        # A fresh interpreter rather than multiprocessing: no fork of a threaded server, and no
        # re-import of the caller's __main__ (which spawn would do).
        ours, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        process = subprocess.Popen(
            [sys.executable, "-c", WORKER_COMMAND, str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, env=env,
            # A process group of its own, so the terminal's Ctrl-C goes to the server alone;
            # not a session of its own, which would put it in its own scheduler autogroup
            # where renicing a heavy job would change nothing against the other workers.
            process_group=0)
        theirs.close()
        worker = _Worker(process, Connection(ours.detach()))
        worker.conn.send(self.spec)
        with self._lock:
            self._alive.add(worker)
        return worker

    def _await_ready(self, worker: _Worker) -> str | None:
        """None when the worker is ready, else why it is not."""
        try:
            if not worker.conn.poll(STARTUP_TIMEOUT):
                self._stop(worker)
                return f"not ready after {STARTUP_TIMEOUT:g} s"
            _, problem = worker.conn.recv()
        except (EOFError, OSError):
            self._stop(worker)
            return f"it exited with code {worker.process.returncode} (see the log above)"
        if problem:
            log.warning("query worker %s runs without the network filter: %s",
                        worker.process.pid, problem)
        return None

    def _replace(self, worker: _Worker) -> None:
        self._stop(worker)
        threading.Thread(target=self._start_one, name="fentanyl-kg-respawn", daemon=True).start()

    def _start_one(self) -> None:
        with self._lock:
            if self._closed:
                return
        worker = self._spawn()
        problem = self._await_ready(worker)
        if problem is not None:
            log.error("a replacement query worker could not start: %s", problem)
        elif self._closed:
            self._stop(worker)
        else:
            self._idle.put(worker)

    def _stop(self, worker: _Worker) -> None:
        with self._lock:
            self._alive.discard(worker)
            first, worker.stopped = not worker.stopped, True
        if worker.process.poll() is None:
            worker.process.kill()
        worker.process.wait()
        if first:  # close() and a request's timeout may both stop a worker
            worker.conn.close()
