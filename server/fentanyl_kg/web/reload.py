"""Swapping a new release into a running app without failing a request (SIGHUP in `serve`).

The new release is verified, loaded and given its own started worker pool while the old one
goes on serving. Then app.extensions["fentanyl_kg"] is replaced in one assignment, so a request
sees the old state or the new one. The old pool is closed, and its release unpinned, once every
request that began before the swap has ended (or after the drain timeout): Requests counts them.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Flask

from fentanyl_kg.web import load_state
from fentanyl_kg.web.config import KgState, StartupError

log = logging.getLogger("fentanyl_kg.web")
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Requests:
    """WSGI middleware counting the requests in progress by the generation they began in."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._cond = threading.Condition()
        self._generation = 0
        self._open: Counter[int] = Counter()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        with self._cond:
            generation = self._generation
            self._open[generation] += 1
        try:
            body = self.app(environ, start_response)
            try:
                yield from body
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
        finally:
            with self._cond:
                self._open[generation] -= 1
                self._cond.notify_all()

    def advance(self) -> int:
        """Start a new generation; returns it."""
        with self._cond:
            self._generation += 1
            return self._generation

    def wait_before(self, generation: int, timeout: float) -> bool:
        """Wait until no request of an earlier generation is in progress; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not any(n for g, n in self._open.items() if g < generation), timeout)


def swap(app: Flask, requests: Requests | None, drain: float) -> KgState:
    """Serve the release the settings name now (OUT_DIR/release or RELEASE_DIR); returns the
    state in use afterwards. Raises StartupError, leaving the old state, if none verifies."""
    old: KgState = app.extensions["fentanyl_kg"]
    if old.settings.STORE_PATH is not None:
        # The on-disk stores would be rewritten in place, under the old release's readers.
        raise StartupError("reloading with STORE_PATH set is not supported; restart instead")
    new = load_state(old.settings)
    if new.release.path == old.release.path:
        _retire(new)
        log.info("fentanyl-kg: reload: release %s is already served", old.version)
        return old
    new.executor.start()
    if not new.executor.status()["alive"]:
        _retire(new)
        raise StartupError(f"no query worker could load release {new.version}")
    app.extensions["fentanyl_kg"] = new
    log.info("fentanyl-kg: reload: now serving release %s (was %s)", new.version, old.version)
    if requests is not None:
        generation = requests.advance()
        if not requests.wait_before(generation, drain):
            log.warning("fentanyl-kg: reload: requests on release %s still running after "
                        "%g s; stopping its workers", old.version, drain)
    _retire(old)
    return new


def _retire(state: KgState) -> None:
    state.executor.close()
    if state.pin is not None:
        state.pin.release()
