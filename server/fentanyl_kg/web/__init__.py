"""The web app: create_app() loads a release once and serves /sparql and the pages.

Settings are listed in config.py. Errors have one shape: a QueryError or an HTTP error becomes
its status with JSON {"error": message, "status": n} (error.html for browsers); anything else is
logged and becomes a 500 of the same shape, never a traceback. Every response allows CORS and
is gzipped when the client accepts it.
"""

from __future__ import annotations

import gzip
import logging
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
from fentanyl_kg.web import querystore
from fentanyl_kg.web.config import KgState, Settings, StartupError
from fentanyl_kg.web.config import load as load_settings
from fentanyl_kg.web.executor import WorkerPool, WorkerSpec

__all__ = ["create_app", "find_release", "load_state", "KgState", "Settings",
           "StartupError"]
GZIP_MIN_BYTES = 1024
log = logging.getLogger("fentanyl_kg.web")
_COMPRESSIBLE = ("text/", "application/json", "application/ld+json", "application/xml",
                 "application/javascript", "application/n-triples", "application/n-quads",
                 "application/rdf+xml", "application/sparql-results+", "application/trig",
                 "image/svg+xml")


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
    app.after_request(_cors)
    app.after_request(_gzip)
    from fentanyl_kg.web import pages, sparql  # the blueprints need the package imported

    app.register_blueprint(sparql.bp)
    app.register_blueprint(pages.bp)
    return app


def load_state(settings: Settings) -> KgState:
    """A KgState for the release the settings name: verified, pinned, loaded, with a worker
    pool (not yet started)."""
    release, pin = _pinned_release(settings)
    spec = WorkerSpec(
        nquads=str(release.nquads), allowlist=settings.SERVICE_ALLOWLIST, prefixes=PREFIXES,
        disk_store=str(querystore.prepare_on_disk(release.nquads, release.version,
                                                  settings.STORE_PATH))
        if settings.STORE_PATH else None)
    try:
        loaded = release_store.load_store(release, settings.STORE_PATH)
    except SyntaxError as exc:  # an old release without checksums, damaged inside a line
        pin.release()
        raise StartupError(f"release {release.version} at {release.path} cannot be read: "
                           f"{exc}") from None
    return KgState(store=loaded, release=release, settings=settings,
                   executor=WorkerPool(spec, settings.QUERY_WORKERS), pin=pin)


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
    return error_response(exc.message, exc.status)


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
    resp.headers["Access-Control-Expose-Headers"] = "ETag, Fentanyl-KG-Truncated"
    if request.method == "OPTIONS":
        resp.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        resp.headers["Access-Control-Allow-Headers"] = "Accept, Content-Type, If-None-Match"
        resp.headers["Access-Control-Max-Age"] = "86400"
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
