"""Running strangers' queries and page lookups: a pool of worker processes, each holding its
own store, with time and memory limits and admission lanes (admission.py).

Neither pyoxigraph 0.5 nor rdflib can cancel a running query, and a signal alarm only reaches
the main thread (../shared/notes/perf_baseline.md, sections 5-6). So every job runs in a worker
process; when it passes the time limit, uses more than WORKER_MEMORY_MB, or turns heavy while
the heavy lane is full, the worker is killed, a fresh one is started in the background, and the
client gets a 503 with Retry-After that names the limit. Other requests go on being served by
the other workers meanwhile.

A worker is a fresh interpreter (not a fork of the threaded server) talking over a socket
pair. It checks a query before it runs it (guard.py: SERVICE allowlist; Update refused), caps
the rows at MAX_ROWS and serializes the answer itself, so the web process only moves bytes. It
cannot open internet sockets unless SERVICE endpoints are allowlisted, its data segment is
capped (RLIMIT_DATA) as a backstop to the memory watch, and it exits when the server goes away.
"""

from __future__ import annotations

import importlib
import logging
import math
import os
import queue
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

import pyoxigraph as ox

from fentanyl_kg.errors import QueryError
from fentanyl_kg.query import admission, guard
from fentanyl_kg.query.jobs import CALLS, Answer, Call, Failure, Job, Result
from fentanyl_kg.query.jobs import run as run_job
from fentanyl_kg.web import querystore

__all__ = ["Answer", "Call", "Failure", "Job", "Result", "WorkerPool", "WorkerSpec"]
log = logging.getLogger("fentanyl_kg.web")
WORKER_COMMAND = "from fentanyl_kg.query.executor import worker_main; worker_main()"
STARTUP_TIMEOUT = 900.0  # seconds a worker may take to load the store
POLL = 0.05  # seconds between looks at a busy worker (its answer, its memory, its lane)
BACKSTOP = 2  # RLIMIT_DATA allows this many times WORKER_MEMORY_MB above the loaded store
RETRY_BUSY = 2  # Retry-After seconds when the workers or the queue are full
HEAVY = "heavy"  # the message that tells a worker its job turned heavy


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to open its store, check queries and cap its memory."""

    nquads: str  # the release's dataset.nq, loaded into memory when disk_store is None
    disk_store: str | None  # a query store folder (querystore.prepare_on_disk), opened read-only
    allowlist: tuple[str, ...]
    prefixes: dict[str, str]
    memory_mb: int = 2048  # WORKER_MEMORY_MB; 0: no limit


class WorkerCrashed(RuntimeError):
    """A worker died of an exception of its own: a bug, reported as a 500."""


def memory_message(limit_mb: int) -> str:
    """The 503 message of a job stopped by the memory limit."""
    return (f"The query was stopped: it used more than {limit_mb} MB (WORKER_MEMORY_MB), this "
            "endpoint's memory limit per query. Make it more selective (fewer rows to sort or "
            "group, shorter strings), or load build/release/dataset.nq into a store of your own.")


# -- the worker process --------------------------------------------------------------------
def worker_main() -> None:
    """The worker process: `python -c "...; worker_main()" <fd>`, fd a socket to the server."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the server, which stops us
    conn = Connection(int(sys.argv[1]))
    threading.Thread(target=_watch_server, args=(os.getppid(),), daemon=True).start()
    spec: WorkerSpec = conn.recv()
    if spec.disk_store:
        store = querystore.open_read_only(spec.disk_store)
    else:
        store = querystore.in_memory(spec.nquads)
    allowlist = frozenset(spec.allowlist)
    for module in {name.partition(":")[0] for name in CALLS}:
        importlib.import_module(module)  # load rdflib and the page code now, not on a request
    if spec.memory_mb:
        cap = int((admission.data_mb() + BACKSTOP * spec.memory_mb) * 2**20)
        resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
    problem = None if allowlist else guard.block_network()
    conn.send(("ready", problem))
    job_thread: threading.Thread | None = None
    while True:
        try:
            message = conn.recv()
        except EOFError:  # the server is gone
            return
        if message == HEAVY:  # the job running now turned heavy (or has just ended)
            if job_thread is not None and job_thread.native_id is not None:
                admission.deprioritise(job_thread.native_id)
            continue
        if job_thread is not None:
            job_thread.join()  # it has sent its reply already
        job_thread = threading.Thread(target=_answer, args=(conn, store, message, spec),
                                      name="fentanyl-kg-job", daemon=True)
        job_thread.start()


def _answer(conn: Connection, store: ox.Store, job: Job | Call, spec: WorkerSpec) -> None:
    """Run one job and send its reply (the worker's main thread meanwhile listens for HEAVY)."""
    try:
        reply = run_job(store, job, frozenset(spec.allowlist), spec.prefixes)
    except MemoryError:  # the RLIMIT_DATA backstop
        reply = Failure(503, memory_message(spec.memory_mb))
    conn.send(reply)


def _watch_server(server_pid: int) -> None:
    """Exit when the server is gone, even in the middle of a query (pyoxigraph releases the
    GIL while it evaluates, so this thread runs)."""
    while os.getppid() == server_pid:
        time.sleep(1)
    os._exit(0)


# -- the pool, in the web process ----------------------------------------------------------
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
        worker = self._acquire(min(self.queue_timeout, timeout))
        try:
            return self._run_on(worker, job, started + timeout, timeout)
        finally:
            with self._lock:
                self._running -= 1
                self._done.notify_all()

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

    def _run_on(self, worker: _Worker, job: Job | Call, deadline: float,
                timeout: float) -> Answer | Result | Failure:
        pid, heavy, sent = worker.process.pid, False, time.monotonic()
        retry = max(1, math.ceil(timeout))
        try:
            worker.conn.send(job)
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
                    if not self.lanes.promote():
                        self._replace(worker)
                        raise QueryError(
                            f"The query was stopped: it ran longer than {self.fast_lane:g} s "
                            f"(FAST_LANE_SECONDS) while all {self.lanes.limit} slots for "
                            "long-running queries (HEAVY_WORKERS) were taken. Please try again "
                            "shortly, or make it more selective.", 503, retry)
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
            start_new_session=True)  # the terminal's Ctrl-C goes to the server alone
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
