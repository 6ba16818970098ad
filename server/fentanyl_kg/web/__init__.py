"""The web app: create_app() loads a release once and serves /sparql and the pages.

Settings are listed in config.py. Errors have one shape: a QueryError or an HTTP error becomes
its status with JSON {"error": message, "status": n} (error.html for browsers); anything else is
logged and becomes a 500 of the same shape, never a traceback. Every response allows CORS, carries
a strict Content-Security-Policy with nosniff, and is gzipped when the client accepts it.
"""

from __future__ import annotations

import gzip
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from jinja2 import TemplateNotFound
from werkzeug.exceptions import HTTPException, InternalServerError

from fentanyl_kg import store as release_store
from fentanyl_kg.errors import QueryError
from fentanyl_kg.namespaces import PREFIXES
from fentanyl_kg.store import Release
from fentanyl_kg.web import limits, querystore
from fentanyl_kg.web.config import KgState, Settings, StartupError
from fentanyl_kg.web.config import load as load_settings

__all__ = ["create_app", "find_release", "load_state", "KgState", "Settings",
           "StartupError"]
GZIP_MIN_BYTES = 1024
log = logging.getLogger("fentanyl_kg.web")
RETRY_AFTER = 5  # seconds, for a 503 that did not say (no worker alive, say)
_COMPRESSIBLE = ("text/", "application/json", "application/ld+json", "application/xml",
                 "application/javascript", "application/n-triples", "application/n-quads",
                 "application/rdf+xml", "application/sparql-results+", "application/trig",
                 "image/svg+xml")
# Scripts and styles come only from /assets (the query page's JSON config is a data block, which
# CSP does not execute); nothing may frame the pages or post them elsewhere.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
CORS_HEADERS = ("Accept, Accept-Language, Content-Type, If-None-Match, If-Modified-Since, "
                "Cache-Control, Authorization, X-Requested-With")
CORS_EXPOSED = ("ETag, Link, Retry-After, Fentanyl-KG-Truncated, Content-Disposition, "
                "Content-Location")
_HEADER_LIST = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The app serving the release named by the settings (see config.Settings)."""
    settings = load_settings(config)
    app = Flask(__name__)
    app.config.update(settings.as_dict())
    app.config.update(MAX_CONTENT_LENGTH=settings.MAX_REQUEST_BYTES,
                      MAX_FORM_MEMORY_SIZE=settings.MAX_REQUEST_BYTES)
    app.extensions["fentanyl_kg"] = load_state(settings)
    app.register_error_handler(QueryError, _query_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _server_error)
    limits.install(app, settings)
    app.after_request(_cors)
    app.after_request(_security)
    app.after_request(_retry_after)
    app.after_request(_gzip)
    from fentanyl_kg.web import pages, sparql  # the blueprints need the package imported

    app.register_blueprint(sparql.bp)
    app.register_blueprint(pages.bp)
    return app


def load_state(settings: Settings) -> KgState:
    """A KgState for the release the settings name: verified, pinned, with a worker pool (not
    yet started)."""
    # Imported here: the query workers import query/, which imports web/formats.py, so a
    # module-level import would be circular in them.
    from fentanyl_kg.query.executor import WorkerPool, WorkerSpec

    release, pin = _pinned_release(settings)
    spec = WorkerSpec(
        nquads=str(release.nquads), allowlist=settings.SERVICE_ALLOWLIST, prefixes=PREFIXES,
        memory_mb=settings.WORKER_MEMORY_MB,
        disk_store=str(querystore.prepare_on_disk(release.nquads, release.version,
                                                  settings.STORE_PATH))
        if settings.STORE_PATH else None)
    pool = WorkerPool(spec, settings.QUERY_WORKERS, heavy=settings.HEAVY_WORKERS,
                      fast_lane=settings.FAST_LANE_SECONDS,
                      queue_timeout=settings.QUEUE_TIMEOUT, max_queue=settings.MAX_QUEUE)
    return KgState(release=release, settings=settings, executor=pool, pin=pin)


def _pinned_release(settings: Settings) -> tuple[Release, release_store.Pin]:
    # A build may prune a folder between finding it and pinning it: then look again.
    for _ in range(3):
        release = find_release(settings)
        try:
            pin = release_store.pin(release.path)
        except FileNotFoundError:
            continue
        if (release.path / "release.json").is_file():
            return release, pin
        pin.release()
    raise StartupError("the release was removed while it was being opened; try again")


def find_release(settings: Settings) -> Release:
    """The release to serve, verified: RELEASE_DIR, else OUT_DIR/release, else (when that one
    is damaged) the newest older release under OUT_DIR that verifies.

    The path returned is the release's own folder, not the OUT_DIR/release link, so that a
    worker started after a rebuild still loads the release being served."""
    if settings.RELEASE_DIR is not None:
        tried = [Path(settings.RELEASE_DIR)]
    else:
        tried = release_store.candidates(settings.OUT_DIR)
    for path in tried:
        release = release_store.open_release(path)
        if release is None:
            continue
        problem = release_store.verify(path)
        if problem is None:
            return Release(path=path.resolve(), version=release.version,
                           counts=release.counts, inputs=release.inputs)
        log.error("fentanyl-kg: refusing damaged release %s at %s: %s", release.version, path,
                  problem)
    where = tried[0] if settings.RELEASE_DIR is not None else \
        settings.OUT_DIR / release_store.CURRENT
    if tried and any(release_store.open_release(p) for p in tried):
        raise StartupError(f"no release under {where} is intact (see the lines above); "
                           "run `fentanyl-kg build` again")
    raise StartupError(f"no release at {where} (it needs dataset.nq and release.json); "
                       "run `fentanyl-kg build` first")


# -- errors --------------------------------------------------------------------------------
def error_response(message: str, status: int) -> Response:
    """The one error shape: JSON {"error", "status"}, or error.html for browsers."""
    resp: Response | None = None
    if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html":
        try:
            resp = Response(render_template("error.html", status=status, error=message),
                            status=status, mimetype="text/html")
        except TemplateNotFound:
            resp = None
    if resp is None:
        resp = jsonify({"error": message, "status": status})
        resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _query_error(exc: QueryError) -> Response:
    resp = error_response(exc.message, exc.status)
    if exc.retry_after is not None:
        resp.headers["Retry-After"] = str(exc.retry_after)
    return resp


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    resp = error_response(exc.description or exc.name, status)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            resp.headers[name] = value
    return resp


def _server_error(exc: InternalServerError) -> Response:
    # Flask has already logged the original exception with its traceback.
    return error_response("Internal server error: the problem was logged. Please report it.",
                          500)


# -- every response ------------------------------------------------------------------------
def _cors(resp: Response) -> Response:
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["Access-Control-Expose-Headers"] = CORS_EXPOSED
    if request.method == "OPTIONS":
        resp.headers["Access-Control-Allow-Methods"] = "GET, HEAD, POST, OPTIONS"
        # The endpoint is public and keeps no cookies, so any well-formed header a client
        # asks for may be sent; echoing the request beats guessing what each library adds.
        asked = (request.headers.get("Access-Control-Request-Headers") or "").strip()
        resp.headers["Access-Control-Allow-Headers"] = \
            asked if len(asked) <= 2000 and _HEADER_LIST.fullmatch(asked) else CORS_HEADERS
        resp.headers["Access-Control-Max-Age"] = "86400"
        resp.vary.add("Access-Control-Request-Headers")
    return resp


def _security(resp: Response) -> Response:
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    return resp


def _retry_after(resp: Response) -> Response:
    """Every 503 says when to come back (a limit that names its own time has set it)."""
    if resp.status_code == 503 and "Retry-After" not in resp.headers:
        resp.headers["Retry-After"] = str(RETRY_AFTER)
    return resp


def _gzip(resp: Response) -> Response:
    if (resp.direct_passthrough or resp.is_streamed or resp.status_code in (204, 304)
            or "Content-Encoding" in resp.headers
            or not request.accept_encodings["gzip"]
            or not (resp.mimetype or "").startswith(_COMPRESSIBLE)):
        return resp
    data = resp.get_data()
    if len(data) < GZIP_MIN_BYTES:
        return resp
    resp.set_data(gzip.compress(data, compresslevel=5, mtime=0))
    resp.headers["Content-Encoding"] = "gzip"
    resp.vary.add("Accept-Encoding")
    etag, weak = resp.get_etag()
    if etag and not weak:  # the gzipped bytes differ, so a strong validator would lie
        resp.set_etag(etag, weak=True)
    return resp
