"""`fentanyl-kg serve`: build the release if there is none, then serve it with waitress.

One line per request goes to the `fentanyl_kg.access` logger (stderr), in the combined log
format followed by the time taken.
"""

from __future__ import annotations

import logging
import re
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import waitress

from fentanyl_kg import __version__, build, store
from fentanyl_kg.errors import KgError, StatementErrors, ValidationFailed
from fentanyl_kg.web import create_app

access_log = logging.getLogger("fentanyl_kg.access")
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


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds waitress, so the query workers are stopped cleanly


def run(host: str = "127.0.0.1", port: int = 8000, threads: int = 8,
        out_dir: Path = Path("build"), data_dir: Path = Path("graph_data"),
        store_path: Path | None = None) -> None:
    """Serve the current release under out_dir, building it from data_dir first if needed."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    release = store.read_release(out_dir)
    if not build.is_current(release, data_dir) and Path(data_dir).is_dir():
        why = "no release" if release is None else "the data or ontology changed since release"
        print(f"fentanyl-kg: {why} in {out_dir}; building from {data_dir}", file=sys.stderr,
              flush=True)
        try:
            release = build.build(data_dir, out_dir, progress=lambda m: print(
                m, file=sys.stderr, flush=True))
        except (StatementErrors, ValidationFailed) as exc:
            if release is None:
                raise
            # A failed build never replaces the graph being served: keep the previous one.
            print(f"{exc}\nfentanyl-kg: the build failed; serving the previous release "
                  f"{release.version}", file=sys.stderr, flush=True)
    if release is None:
        raise KgError(f"no release in {out_dir} and no data folder {data_dir} to build one")
    # The resolved folder, so that a worker restarted after a rebuild still loads this release.
    app = create_app({"RELEASE_DIR": Path(release.path).resolve(), "OUT_DIR": out_dir,
                      "DATA_DIR": data_dir, "STORE_PATH": store_path})
    state = app.extensions["fentanyl_kg"]
    state.executor.start()
    settings = app.config["MAX_REQUEST_BYTES"]
    server = waitress.create_server(AccessLog(app), host=host, port=port, threads=threads,
                                    ident=f"fentanyl-kg/{__version__}",
                                    max_request_body_size=settings)
    signal.signal(signal.SIGTERM, _stop)
    url = f"http://{host}:{server.effective_port}/"  # type: ignore[union-attr]
    print(f"fentanyl-kg: serving release {release.version} on {url} with {threads} threads "
          f"and {state.settings.QUERY_WORKERS} query workers", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        state.executor.close()
        server.close()
