"""Blueprint `sparql`: the SPARQL 1.1 Protocol at /sparql, its service description, the VoID
description at /.well-known/void, and /healthz.

Operations (https://www.w3.org/TR/sparql11-protocol/#query-operation): GET with `query=`; POST
as application/x-www-form-urlencoded; POST as application/sparql-query (UTF-8). Any number of
`default-graph-uri` and `named-graph-uri`. HEAD is answered as GET without the body. A
parameter that is not UTF-8 once percent-decoded is a 400. The answer's format comes from
`format=` or from Accept with q-values (formats.py). The query itself runs in a worker process
(executor.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from fentanyl_kg.errors import QueryError
from fentanyl_kg.query import guard
from fentanyl_kg.query.executor import Answer, Failure, Job
from fentanyl_kg.web import formats, service
from fentanyl_kg.web.config import KgState
from fentanyl_kg.web.params import check_utf8

bp = Blueprint("sparql", __name__)
FORM = "application/x-www-form-urlencoded"
DIRECT = "application/sparql-query"
UPDATE = "application/sparql-update"
CACHE = "public, max-age=300"


@dataclass(frozen=True)
class Operation:
    """A query request as the protocol defines it, read from GET or POST."""

    query: str | None
    default_graphs: tuple[str, ...] | None
    named_graphs: tuple[str, ...] | None
    params: MultiDict[str, str]


def state() -> KgState:
    """The app's KgState."""
    return current_app.extensions["fentanyl_kg"]  # type: ignore[no-any-return]


@bp.route("/sparql", methods=["GET", "POST"])
def endpoint() -> Response:
    """The SPARQL 1.1 query operation; without a query, the service description."""
    op = read_operation()
    choice = _negotiate(op.params)
    reads = request.method in ("GET", "HEAD")  # HEAD is answered as GET, without the body
    if op.query is None:
        if choice.html and reads and "pages" in current_app.blueprints:
            return redirect("/", code=303)  # type: ignore[return-value]
        return _rdf(service.description(request.base_url, state().release, state().settings),
                    choice)
    if choice.html and reads and "pages" in current_app.blueprints:
        return redirect("/?" + urlencode({"query": op.query}), code=303)  # type: ignore
    citations = op.params.get("citations", "").lower() in ("1", "true", "yes")
    etag = _etag(choice, citations) if reads else None
    if etag and request.if_none_match.contains_weak(etag):
        return _not_modified(etag)
    st = state()
    job = Job(query=op.query, default_graphs=op.default_graphs, named_graphs=op.named_graphs,
              results_format=choice.results.name if choice.results else None,
              graph_format=choice.graph.name if choice.graph else None,
              max_rows=st.settings.MAX_ROWS, base_iri=request.base_url, citations=citations)
    reply = st.executor.run(job, st.settings.QUERY_TIMEOUT)
    if isinstance(reply, Failure):
        if reply.status >= 500 and reply.status != 503:
            current_app.logger.error("query failed on the server side: %s", reply.message)
        raise QueryError(reply.message, reply.status)
    assert isinstance(reply, Answer)
    body = reply.body
    resp = Response(body, content_type=formats.content_type(formats.BY_NAME[reply.format]))
    resp.headers["Fentanyl-KG-Truncated"] = "true" if reply.truncated else "false"
    if etag:
        resp.set_etag(etag, weak=True)
        resp.headers["Cache-Control"] = CACHE
    else:
        resp.headers["Cache-Control"] = "no-store"
    resp.vary.add("Accept")
    return resp


def read_operation() -> Operation:
    """The protocol operation of this request, or a 4xx QueryError saying what is wrong."""
    check_utf8(request.query_string, "query string")
    if request.method in ("GET", "HEAD"):
        params: MultiDict[str, str] = MultiDict(request.args)
        query = _single(params, "query")
    else:
        mimetype = request.mimetype
        if mimetype == FORM:
            check_utf8(request.get_data(cache=True), "form body")
            params = MultiDict(request.args)
            params.update(request.form)
            query = _single(params, "query")
        elif mimetype == DIRECT:
            charset = request.mimetype_params.get("charset", "utf-8").lower()
            if charset not in ("utf-8", "utf8"):
                raise QueryError(f"{DIRECT} must be sent as UTF-8, not {charset}.", 415)
            params = MultiDict(request.args)
            if "query" in params:
                raise QueryError("A query sent as the request body cannot also be given as a "
                                 "'query' parameter.", 400)
            try:
                query = request.get_data(cache=False).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise QueryError(f"The request body is not valid UTF-8: {exc}", 400) from None
        elif mimetype == UPDATE:
            raise QueryError(guard.READ_ONLY, 403)
        else:
            raise QueryError(f"A POST to /sparql needs the Content-Type {FORM} or {DIRECT}"
                             f" (got {mimetype or 'none'}).", 415)
    if "update" in params or "using-graph-uri" in params or "using-named-graph-uri" in params:
        raise QueryError(guard.READ_ONLY, 403)
    if query is not None:
        if not query.strip():
            raise QueryError("The query is empty.", 400)
        if len(query.encode("utf-8")) > state().settings.MAX_REQUEST_BYTES:
            raise QueryError(f"The query is longer than {state().settings.MAX_REQUEST_BYTES} "
                             "bytes.", 413)
    default = _iris(params, "default-graph-uri")
    named = _iris(params, "named-graph-uri")
    if query is None and (default or named or request.method == "POST"):
        raise QueryError("No query was given: send it as the 'query' parameter, or as the "
                         f"body of a POST with Content-Type {DIRECT}.", 400)
    return Operation(query, default, named, params)


def _single(params: MultiDict[str, str], name: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise QueryError(f"Give exactly one '{name}' parameter, not {len(values)}.", 400)
    return values[0] if values else None


def _iris(params: MultiDict[str, str], name: str) -> tuple[str, ...] | None:
    values = params.getlist(name)
    for value in values:
        try:
            ox.NamedNode(value)
        except ValueError:
            raise QueryError(f"{name} {value!r} is not an absolute IRI.", 400) from None
    return tuple(values) if values else None


def _negotiate(params: MultiDict[str, str]) -> formats.Choice:
    try:
        return formats.negotiate(request.headers.get("Accept"), params.get("format"))
    except formats.NotAcceptable as exc:
        raise QueryError(str(exc), 406) from None


def _etag(choice: formats.Choice, citations: bool) -> str:
    """Same release, same request, same formats: same answer."""
    key = "\n".join([state().version, request.full_path, str(citations),
                     choice.results.name if choice.results else "",
                     choice.graph.name if choice.graph else ""])
    return f"{state().version}-{hashlib.sha1(key.encode()).hexdigest()[:16]}"


def _not_modified(etag: str) -> Response:
    resp = Response(status=304)
    resp.set_etag(etag, weak=True)
    resp.headers["Cache-Control"] = CACHE
    resp.vary.add("Accept")
    return resp


def _rdf(triples: list[ox.Triple], choice: formats.Choice) -> Response:
    if choice.graph is None:
        raise QueryError(f"This description is RDF; accept one of {formats.supported('graph')}.",
                         406)
    body = formats.graph(choice.graph, triples, False, 0)
    etag = f"{state().version}-{hashlib.sha1(body).hexdigest()[:16]}"
    if request.if_none_match.contains_weak(etag):
        return _not_modified(etag)
    resp = Response(body, content_type=formats.content_type(choice.graph))
    resp.set_etag(etag, weak=True)
    resp.headers["Cache-Control"] = CACHE
    resp.vary.add("Accept")
    return resp


@bp.get("/.well-known/void")
def void() -> Response:
    """The VoID description of the dataset, by content negotiation (Turtle by default)."""
    endpoint = url_for("sparql.endpoint", _external=True)
    return _rdf(service.void(state().release, endpoint), _negotiate(MultiDict(request.args)))


@bp.get("/healthz")
def healthz() -> tuple[dict[str, Any], int]:
    """200 while the store is loaded and at least one query worker is alive, else 503."""
    st = state()
    st.executor.start()  # on first use, waits until the workers have loaded the store
    workers = st.executor.status()
    ok = workers["alive"] > 0
    return {"status": "ok" if ok else "degraded", "version": st.version,
            "triples": st.release.counts.get("quads"), **workers}, 200 if ok else 503
