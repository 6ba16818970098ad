"""Admission: the lanes that keep cheap queries answering while heavy ones run, and the memory
readings the pool watches.

Every job starts in the fast lane. One still running after `fast_lane_seconds` turns heavy:
at most `heavy` jobs may be heavy at once, so `size - heavy` workers always stay free for cheap
queries, and a job that turns heavy while the heavy lane is full is stopped. A heavy worker is
reniced (nice +10) so that the kernel runs cheap queries first on a small machine."""

from __future__ import annotations

import os
import threading

PAGE = os.sysconf("SC_PAGE_SIZE")
HEAVY_NICE = 10


class Lanes:
    """How many jobs are heavy, against the limit; thread-safe."""

    def __init__(self, heavy: int) -> None:
        self.limit = heavy
        self._heavy = 0
        self._lock = threading.Lock()

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
