"""`fentanyl-kg serve`: build the release if there is none, then serve it with waitress.

One line per request goes to the `fentanyl_kg.access` logger (stderr), in the combined log
format followed by the time taken. SIGTERM or SIGINT stops gracefully: no new connections, the
requests in progress finish (up to SHUTDOWN_TIMEOUT s), then the workers stop and the process
exits 0. SIGHUP swaps in the release now at OUT_DIR/release (reload.py).
"""

from __future__ import annotations

import logging
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

import waitress
from flask import Flask
from waitress import wasyncore
from waitress.server import BaseWSGIServer

from fentanyl_kg import __version__, build, store
from fentanyl_kg.errors import KgError, StatementErrors, ValidationFailed
from fentanyl_kg.web import create_app
from fentanyl_kg.web.config import Settings
from fentanyl_kg.web.config import load as load_settings
from fentanyl_kg.web.reload import Requests, swap

access_log = logging.getLogger("fentanyl_kg.access")
log = logging.getLogger("fentanyl_kg.web")
POLL_SECONDS = 0.5  # how soon the serving loop notices a signal
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
MAX_LOGGED_TARGET = 300  # characters of the request target kept in the access log
# C0 and C1 controls, DEL, and the quote and backslash that delimit the log's fields
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f"\\]')
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"', "\\": "\\\\"}


class AccessLog:
    """WSGI middleware writing one access log line per request."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        started = time.perf_counter()
        seen: dict[str, str] = {}

        def _start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            seen["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, *exc_info)

        size = 0
        body = self.app(environ, _start)
        try:
            for chunk in body:
                size += len(chunk)
                yield chunk
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            access_log.info(_line(environ, seen.get("status", "-"), size,
                                  time.perf_counter() - started))


def escape(text: str) -> str:
    """Text safe for one log line: controls as \\n, \\x1b and so on, as Apache escapes them,
    so that a request cannot forge or hide log lines."""
    return _UNSAFE.sub(lambda m: _NAMED.get(m[0], f"\\x{ord(m[0]):02x}"), text)


def _line(environ: dict[str, Any], status: str, size: int, seconds: float) -> str:
    target = environ.get("PATH_INFO", "")
    if environ.get("QUERY_STRING"):
        target += "?" + environ["QUERY_STRING"]
    # WSGI gives the path as latin-1; read the bytes as UTF-8 so that é is logged as é.
    target = target.encode("latin-1", "replace").decode("utf-8", "backslashreplace")
    if len(target) > MAX_LOGGED_TARGET:
        target = target[:MAX_LOGGED_TARGET] + "..."

    def field(name: str) -> str:
        return escape(str(environ.get(name, "-")))

    when = time.strftime("%d/%b/%Y:%H:%M:%S %z")
    return (f'{field("REMOTE_ADDR")} - - [{when}] '
            f'"{field("REQUEST_METHOD")} {escape(target)} {field("SERVER_PROTOCOL")}" '
            f'{status} {size} "{field("HTTP_REFERER")}" "{field("HTTP_USER_AGENT")}" '
            f"{seconds * 1000:.1f}ms")


class _Signals:
    """What the signal handlers ask for; the serving loop acts on it between polls.

    A handler only sets flags: raising in it could cut a waitress channel in half."""

    def __init__(self) -> None:
        self.stops = 0
        self.reload = threading.Event()

    def stop(self, signum: int, frame: FrameType | None) -> None:
        self.stops += 1

    def hup(self, signum: int, frame: FrameType | None) -> None:
        self.reload.set()


def prepare(settings: Settings) -> None:
    """Build the release from DATA_DIR into OUT_DIR when there is none or the inputs changed
    (not when RELEASE_DIR names the release to serve); a failed build keeps the old one."""
    if settings.RELEASE_DIR is not None:
        return
    out_dir, data_dir = settings.OUT_DIR, settings.DATA_DIR
    release = store.read_release(out_dir)
    if build.is_current(release, data_dir) or not Path(data_dir).is_dir():
        return
    why = "no release" if release is None else "the data or ontology changed since release"
    print(f"fentanyl-kg: {why} in {out_dir}; building from {data_dir}", file=sys.stderr,
          flush=True)
    try:
        build.build(data_dir, out_dir, progress=lambda m: print(m, file=sys.stderr, flush=True))
    except (StatementErrors, ValidationFailed) as exc:
        if release is None:
            raise
        # A failed build never replaces the graph being served: keep the previous one.
        print(f"{exc}\nfentanyl-kg: the build failed; serving the previous release "
              f"{release.version}", file=sys.stderr, flush=True)


def run(config: Mapping[str, Any] | None = None, host: str = "127.0.0.1", port: int = 8000,
        threads: int = 8) -> None:
    """Serve the release the settings name (defaults, FENTANYL_KG_* environment, then
    `config`), building it first if needed, until SIGTERM or SIGINT; SIGHUP reloads."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    settings = load_settings(config)
    prepare(settings)
    if settings.RELEASE_DIR is None and not store.candidates(settings.OUT_DIR):
        raise KgError(f"no release in {settings.OUT_DIR} and no data folder "
                      f"{settings.DATA_DIR} to build one")
    app = create_app(config)
    state = app.extensions["fentanyl_kg"]
    state.executor.start()
    requests = Requests(AccessLog(app))
    server = waitress.create_server(requests, host=host, port=port, threads=threads,
                                    ident=f"fentanyl-kg/{__version__}",
                                    max_request_body_size=settings.MAX_REQUEST_BYTES,
                                    # waitress drops X-Forwarded-For unless it trusts the peer
                                    # itself; limits.py decides whom to trust (TRUSTED_PROXIES).
                                    clear_untrusted_proxy_headers=False)
    assert isinstance(server, BaseWSGIServer)  # one host and port: one listening socket
    signals = _Signals()
    signal.signal(signal.SIGTERM, signals.stop)
    signal.signal(signal.SIGINT, signals.stop)
    signal.signal(signal.SIGHUP, signals.hup)
    url = f"http://{host}:{server.effective_port}/"
    print(f"fentanyl-kg: serving release {state.version} on {url} with {threads} threads "
          f"and {settings.QUERY_WORKERS} query workers", flush=True)
    reloading = threading.Lock()
    try:
        while not signals.stops:
            wasyncore.loop(timeout=POLL_SECONDS, map=server._map,
                           use_poll=server.adj.asyncore_use_poll, count=1)
            if signals.reload.is_set() and reloading.acquire(blocking=False):
                signals.reload.clear()
                threading.Thread(target=_reload, args=(app, requests, settings, reloading),
                                 name="fentanyl-kg-reload", daemon=True).start()
        print("fentanyl-kg: stopping; finishing the requests in progress", file=sys.stderr,
              flush=True)
        _drain(server, settings.SHUTDOWN_TIMEOUT, signals)
    finally:
        server.task_dispatcher.shutdown(timeout=5)
        wasyncore.close_all(server._map)
        server.close()
        final = app.extensions["fentanyl_kg"]
        final.executor.close()
        if final.pin is not None:
            final.pin.release()


def _reload(app: Flask, requests: Requests, settings: Settings, lock: threading.Lock) -> None:
    try:
        swap(app, requests, settings.SHUTDOWN_TIMEOUT)
    except (KgError, OSError) as exc:  # StartupError is a KgError
        log.error("fentanyl-kg: reload refused, still serving the previous release: %s", exc)
    finally:
        lock.release()


def _drain(server: BaseWSGIServer, timeout: float, signals: _Signals) -> None:
    """Stop accepting connections, then serve until no request is in progress (or `timeout`
    seconds pass, or a second stop signal comes). waitress has no graceful stop of its own."""
    for _ in range(server.adj.backlog):  # connections already queued were requests sent
        before = len(server._map)
        server.handle_accept()
        if len(server._map) == before:
            break
    wasyncore.dispatcher.close(server)  # the listening socket only; channels stay open
    deadline = time.monotonic() + timeout
    while signals.stops < 2:
        channels = list(server.active_channels.values())
        busy = [c for c in channels if c.requests or c.request is not None
                or c.total_outbufs_len]
        if not busy:
            return
        if time.monotonic() > deadline:
            log.warning("fentanyl-kg: %d request(s) still running after %g s; stopping them",
                        len(busy), timeout)
            return
        for channel in channels:
            if channel not in busy:  # an idle keep-alive connection: close it now
                channel.will_close = True
        wasyncore.loop(timeout=POLL_SECONDS / 5, map=server._map,
                       use_poll=server.adj.asyncore_use_poll, count=1)
