"""The query worker process: it loads its own store, then runs one job at a time, each in a
thread of its own, and sends back the reply (executor.py starts, watches and kills workers).

A worker is a fresh interpreter (not a fork of the threaded server) talking over a socket
pair. It checks a query before it runs it (guard.py: SERVICE allowlist; Update refused), caps
the rows at MAX_ROWS and serializes the answer itself, so the web process only moves bytes. It
cannot open internet sockets unless SERVICE endpoints are allowlisted, its data segment is
capped (RLIMIT_DATA) as a backstop to the server's memory watch, and it exits when the server
goes away.
"""

from __future__ import annotations

import importlib
import os
import resource
import signal
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

import pyoxigraph as ox

from fentanyl_kg.query import admission, guard
from fentanyl_kg.query.jobs import CALLS, Call, Failure, Job
from fentanyl_kg.query.jobs import run as run_job
from fentanyl_kg.web import querystore

BACKSTOP = 2  # RLIMIT_DATA allows this many times WORKER_MEMORY_MB above the loaded store
HEAVY = "heavy"  # the message that tells a worker its job turned heavy


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to open its store, check queries and cap its memory."""

    nquads: str  # the release's dataset.nq, loaded into memory when disk_store is None
    disk_store: str | None  # a query store folder (querystore.prepare_on_disk), opened read-only
    allowlist: tuple[str, ...]
    prefixes: dict[str, str]
    memory_mb: int = 2048  # WORKER_MEMORY_MB; 0: no limit


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
    threading.excepthook = _crash
    threading.Thread(target=_watch_server, args=(os.getppid(),), daemon=True).start()
    spec: WorkerSpec = conn.recv()
    loaded: list[ox.Store] = []
    loader = threading.Thread(target=_load, args=(spec, loaded), name="fentanyl-kg-load")
    loader.start()
    loader.join()
    if not loaded:
        sys.exit(1)  # the loader has printed why
    store, allowlist = loaded[0], frozenset(spec.allowlist)
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


def _crash(args: threading.ExceptHookArgs) -> None:
    """A job or the loader failed with an exception of its own (a bug): print it and exit, so
    that the server sees the worker die with code 1 and answers 500, as a single-threaded
    worker would, rather than waiting for a reply that never comes."""
    sys.__excepthook__(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)
    os._exit(1)


def _load(spec: WorkerSpec, out: list[ox.Store]) -> None:
    """Load the store and the page code, in a thread reniced like a heavy job: a worker that
    replaces a killed one then takes the CPU from no query in progress. (The job threads are
    started by the main thread, so they keep the normal priority.)"""
    admission.deprioritise(threading.get_native_id())
    if spec.disk_store:
        out.append(querystore.open_read_only(spec.disk_store))
    else:
        out.append(querystore.in_memory(spec.nquads))
    for module in {name.partition(":")[0] for name in CALLS}:
        importlib.import_module(module)  # load rdflib and the page code now, not on a request


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
