"""Admission: the lanes that keep cheap queries answering while heavy ones run, and the memory
readings the pool watches.

Every job starts in the fast lane. One still running after `fast_lane_seconds` turns heavy:
at most `heavy` jobs may be heavy at once, so `size - heavy` workers always stay free for cheap
queries, and a job that turns heavy while the heavy lane is full is stopped. A heavy worker is
reniced (nice +10) so that the kernel runs cheap queries first on a small machine."""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict

PAGE = os.sysconf("SC_PAGE_SIZE")
HEAVY_NICE = 10
KNOWN = 1024  # heavy jobs remembered


def _key(job: object) -> bytes:
    return hashlib.sha1(repr(job).encode("utf-8", "surrogatepass")).digest()


class Lanes:
    """How many jobs are heavy, against the limit, and which jobs were heavy before;
    thread-safe.

    A job seen heavy is remembered (the last KNOWN of them): asked again, it goes straight to
    the heavy lane, or is refused at once when that lane is full, instead of taking a worker
    from the cheap queries for FAST_LANE_SECONDS and costing a worker respawn each time a
    client retries it."""

    def __init__(self, heavy: int) -> None:
        self.limit = heavy
        self._heavy = 0
        self._lock = threading.Lock()
        self._known: OrderedDict[bytes, None] = OrderedDict()

    def remember(self, job: object) -> None:
        """Note that `job` (a Job or Call) turned heavy."""
        key = _key(job)
        with self._lock:
            self._known[key] = None
            self._known.move_to_end(key)
            while len(self._known) > KNOWN:
                self._known.popitem(last=False)

    def known(self, job: object) -> bool:
        """Whether `job` turned heavy before."""
        with self._lock:
            return _key(job) in self._known

    def promote(self) -> bool:
        """Take a heavy slot for a job that ran past the fast lane; False when all are taken."""
        with self._lock:
            if self._heavy >= self.limit:
                return False
            self._heavy += 1
            return True

    def release(self) -> None:
        """Give back a heavy slot."""
        with self._lock:
            self._heavy -= 1

    @property
    def heavy(self) -> int:
        """Jobs heavy now."""
        return self._heavy


def resident_mb(pid: int) -> float:
    """The resident memory of a process in MB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * PAGE / 2**20
    except (OSError, ValueError, IndexError):  # gone, or not Linux
        return 0.0


def data_mb() -> float:
    """This process's data segment (VmData) in MB, what RLIMIT_DATA counts."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def deprioritise(tid: int) -> None:
    """Renice the thread running a job that turned heavy, HEAVY_NICE above its process.

    Each job runs in a thread of its own (executor.worker_main), so the next job, in a new
    thread, starts at the worker's normal priority: an unprivileged process may raise a
    niceness but never lower it again, so renicing the whole worker would cost a respawn."""
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, 0)
                                                 + HEAVY_NICE))
    except OSError:  # the job has just ended
        pass
