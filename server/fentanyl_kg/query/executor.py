"""Running strangers' queries: a small pool of worker processes, each holding its own store.

Neither pyoxigraph 0.5 nor rdflib can cancel a running query, and a signal alarm only reaches
the main thread (../shared/notes/perf_baseline.md, sections 5-6). So every /sparql query runs
in a worker process; when it passes the time limit the worker is killed, a fresh one is started
in the background, and the client gets a 503 that says so. Other requests go on being served
by the other workers meanwhile.

A worker is a fresh interpreter (not a fork of the threaded server) talking over a socket
pair. It checks the query before it runs it (guard.py: SERVICE allowlist; Update refused), caps
the rows at MAX_ROWS and serializes the answer itself, so the web process only moves bytes. It
cannot open internet sockets unless SERVICE endpoints are allowlisted, and it exits when the
server process goes away.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from itertools import islice
from multiprocessing.connection import Connection

import pyoxigraph as ox

from fentanyl_kg.errors import QueryError
from fentanyl_kg.query import guard
from fentanyl_kg.web import formats, querystore

log = logging.getLogger("fentanyl_kg.web")
WORKER_COMMAND = "from fentanyl_kg.query.executor import worker_main; worker_main()"
STARTUP_TIMEOUT = 900.0  # seconds a worker may take to load the store
MAX_MESSAGE = 600  # characters of a parser message passed on to the client


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to open its store and check queries."""

    nquads: str  # the release's dataset.nq, loaded into memory when disk_store is None
    disk_store: str | None  # a query store folder (querystore.prepare_on_disk), opened read-only
    allowlist: tuple[str, ...]
    prefixes: dict[str, str]


@dataclass(frozen=True)
class Job:
    query: str
    default_graphs: tuple[str, ...] | None  # protocol default-graph-uri values
    named_graphs: tuple[str, ...] | None  # protocol named-graph-uri values
    results_format: str | None  # formats.Format name for SELECT and ASK; None: not acceptable
    graph_format: str | None  # for CONSTRUCT and DESCRIBE
    max_rows: int
    base_iri: str | None


@dataclass(frozen=True)
class Answer:
    kind: str  # "results" (SELECT), "boolean" (ASK) or "graph" (CONSTRUCT, DESCRIBE)
    format: str
    body: bytes
    truncated: bool


@dataclass(frozen=True)
class Failure:
    status: int
    message: str


class WorkerCrashed(RuntimeError):
    """A worker died of an exception of its own: a bug, reported as a 500."""


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
    guard.check_service("ASK { SERVICE <x:> {} }", frozenset({"x:"}), {})  # load the parser now
    problem = None if allowlist else guard.block_network()
    conn.send(("ready", problem))
    while True:
        try:
            job = conn.recv()
        except EOFError:  # the server is gone
            return
        conn.send(answer(store, job, allowlist, spec.prefixes))


def _watch_server(server_pid: int) -> None:
    """Exit when the server is gone, even in the middle of a query (pyoxigraph releases the
    GIL while it evaluates, so this thread runs)."""
    while os.getppid() == server_pid:
        time.sleep(1)
    os._exit(0)


def answer(store: ox.Store, job: Job, allowlist: frozenset[str],
           prefixes: dict[str, str]) -> Answer | Failure:
    """Check and run one query on `store`; what the worker sends back."""
    try:
        guard.check_service(job.query, allowlist, prefixes)
    except QueryError as exc:
        return Failure(exc.status, exc.message)
    dataset: dict[str, list[ox.NamedNode]] = {}
    if job.default_graphs is not None or job.named_graphs is not None:
        # A protocol dataset replaces the whole default dataset (SPARQL 1.1 Protocol 2.1.4).
        dataset["default_graph"] = [ox.NamedNode(g) for g in job.default_graphs or ()]
        dataset["named_graphs"] = [ox.NamedNode(g) for g in job.named_graphs or ()]
    try:
        result = store.query(job.query, base_iri=job.base_iri, prefixes=prefixes,
                             **dataset)  # type: ignore[arg-type]
        return _serialize(result, job)
    except SyntaxError as exc:
        if guard.is_update(job.query):
            return Failure(403, guard.READ_ONLY)
        return Failure(400, f"The query is not valid SPARQL 1.1: {tidy(str(exc))}")
    except OSError as exc:  # pyoxigraph reports a failed SERVICE call (and storage errors) so
        if guard.may_use_service(job.query):
            return Failure(502, f"A SERVICE call failed: {exc}")
        return Failure(500, f"The store could not be read: {exc}")


def tidy(message: str) -> str:
    """pyoxigraph's parser message with its position and expected tokens, but without the long
    Unicode character classes it lists."""
    message = re.sub(r"\[[^\[\]]*\.\.=[^\[\]]*\]", "…", message)
    message = re.sub(r"(, (…|\[_\]))+", ", …", message)
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE] + " …"


def _serialize(result: ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples,
               job: Job) -> Answer | Failure:
    if isinstance(result, ox.QueryTriples):
        if job.graph_format is None:
            return Failure(406, "None of the accepted media types can carry CONSTRUCT or "
                                f"DESCRIBE results; use one of {formats.supported('graph')}.")
        triples = list(islice(result, job.max_rows + 1))
        cut = len(triples) > job.max_rows
        fmt = formats.BY_NAME[job.graph_format]
        body = formats.graph(fmt, triples[:job.max_rows], cut, job.max_rows)
        return Answer("graph", fmt.name, body, cut)
    if job.results_format is None:
        return Failure(406, "None of the accepted media types can carry SELECT or ASK "
                            f"results; use one of {formats.supported('results')}.")
    fmt = formats.BY_NAME[job.results_format]
    if isinstance(result, ox.QueryBoolean):
        return Answer("boolean", fmt.name, formats.boolean(fmt, bool(result)), False)
    variables = [v.value for v in result.variables]
    rows = [tuple(solution) for solution in islice(result, job.max_rows + 1)]
    cut = len(rows) > job.max_rows
    rows = rows[:job.max_rows]
    body = formats.solutions(fmt, variables, rows, cut, job.max_rows)  # type: ignore[arg-type]
    return Answer("results", fmt.name, body, cut)


# -- the pool, in the web process ----------------------------------------------------------
@dataclass(eq=False)
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection


class WorkerPool:
    """`size` worker processes; `run` hands a job to an idle one and enforces the time limit."""

    def __init__(self, spec: WorkerSpec, size: int) -> None:
        self.spec, self.size = spec, size
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._alive: set[_Worker] = set()
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._started = self._closed = False

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

    def run(self, job: Job, timeout: float) -> Answer | Failure:
        """Run `job` on an idle worker; 503 when none frees up or the query is too slow."""
        self.start()
        if not self._alive:
            raise QueryError("No query worker is running (see the server log).", 503)
        try:
            worker = self._idle.get(timeout=timeout)
        except queue.Empty:
            raise QueryError(f"All {self.size} query workers stayed busy for {timeout:g} s; "
                             "please try again shortly.", 503) from None
        try:
            worker.conn.send(job)
            done = worker.conn.poll(timeout)
            reply = worker.conn.recv() if done else None
        except (EOFError, OSError):
            self._replace(worker)
            code = worker.process.returncode
            if code is not None and code > 0:
                raise WorkerCrashed(f"query worker {worker.process.pid} exited with {code}") \
                    from None
            raise QueryError("The worker running this query stopped unexpectedly (it may have "
                             "run out of memory); try a smaller query.", 503) from None
        if reply is None:
            self._replace(worker)
            raise QueryError(f"The query was stopped after {timeout:g} s, this endpoint's time "
                             "limit. Make it more selective (for example with LIMIT or fewer "
                             "unbound patterns), or load build/release/dataset.nq into a store "
                             "of your own.", 503)
        self._idle.put(worker)
        return reply  # type: ignore[no-any-return]

    def status(self) -> dict[str, int]:
        """How many workers there should be, are alive, and are idle."""
        with self._lock:
            return {"workers": self.size, "alive": len(self._alive), "idle": self._idle.qsize()}

    def close(self) -> None:
        """Stop every worker."""
        with self._lock:
            self._closed = True
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
        if worker.process.poll() is None:
            worker.process.kill()
        worker.process.wait()
        worker.conn.close()
