"""Calls that test the limits of a query worker from the inside (tests and operators)."""

from __future__ import annotations

import socket
import time

import pyoxigraph as ox


def probe_network(store: ox.Store, host: str, port: int) -> str:
    """Try to open a TCP connection from the worker: "blocked: ..." or "connected"."""
    try:
        with socket.create_connection((host, port), timeout=5):
            return "connected"
    except OSError as exc:
        return f"blocked: {exc}"


def allocate(store: ox.Store, megabytes: int) -> int:
    """Hold `megabytes` of memory for a moment (the worker memory limit stops it first)."""
    block = bytearray(megabytes * 1024 * 1024)
    for i in range(0, len(block), 4096):  # touch every page, so it is resident
        block[i] = 1
    return len(block)


def hold(store: ox.Store, seconds: float) -> float:
    """Keep the worker busy for `seconds` (to see a drain or a queue limit at work)."""
    time.sleep(seconds)
    return seconds
