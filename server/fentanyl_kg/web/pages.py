"""Blueprint `pages`: the query page, Linked Data pages, /cite and the named queries.

Every IRI under the public base is served at the matching local path (…/id/sonora at
/id/sonora, …/ontology#Place at /ontology). Each page comes as HTML, as JSON (the same data the
template renders) and as RDF (Turtle, JSON-LD, N-Triples, RDF/XML, TriG, N-Quads), by content
negotiation (the table and rules of /sparql: formats.py, conneg.py) or by a suffix twin:
/id/sonora.ttl, .jsonld, .nt, .rdf, .trig, .nq, .json. One `Link: rel="alternate"` names the
JSON-LD twin (the Turtle twin, on the JSON-LD itself): JSON-LD document loaders such as PyLD's
follow a single alternate and fail on several.
"""

from __future__ import annotations

import csv
import hashlib
import io
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request

from fentanyl_kg.errors import QueryError
from fentanyl_kg.namespaces import BASE, PREFIXES
from fentanyl_kg.query.jobs import Call, Failure, Result
from fentanyl_kg.web import conneg, formats, jsonld, named, pagedata, rdfout
from fentanyl_kg.web.params import check_utf8
from fentanyl_kg.web.terms import compact

bp = Blueprint("pages", __name__, template_folder="templates", static_folder="static",
               static_url_path="/assets")
HTML, JSON, CSV = "text/html", "application/json", "text/csv"
RDF = list(rdfout.RDF_TYPES)
# Each media type a page comes in, with the Accept values that select it (the RDF rows are
# /sparql's table, so both read Accept alike).
OFFERS: dict[str, formats.Format] = {
    f.media_type: f for f in (
        formats.Format("html", HTML, "page", (HTML, "application/xhtml+xml"), ""),
        formats.Format("json", JSON, "page", (JSON,), ""),
        formats.Format("csv", CSV, "page", (CSV,), ""),
        *formats.GRAPHS, *formats.DATASETS)}


@bp.before_request
def _utf8_parameters() -> None:
    """A page parameter that is not UTF-8 once percent-decoded is a 400, as on /sparql, never
    a lookup of a name with U+FFFD in it."""
    check_utf8(request.query_string, "query string")


@bp.app_template_filter("link_target")
def link_target(value: str | None) -> str:
    """A URL fit for href: local paths and http(s) URLs pass, anything else becomes '#'.
    Browsers read a backslash as a slash, so '/\\host' is refused like '//host'."""
    text = str(value or "")
    if (text.startswith("/") and not text.startswith(("//", "/\\"))) or \
            text.startswith(("http://", "https://")):
        return text
    return "#"


@bp.app_template_filter("compact")
def compact_filter(value: str) -> str:
    return compact(str(value))


def setting(name: str, default: Any) -> Any:
    """A setting of the running app (W1's KgState.settings: a mapping or an object)."""
    settings = getattr(current_app.extensions["fentanyl_kg"], "settings", {})
    if isinstance(settings, Mapping):
        return settings.get(name, default)
    return getattr(settings, name, default)


def site() -> pagedata.Site:
    """This request's view of the site, for a page lookup in a query worker."""
    return pagedata.Site(setting("PUBLIC_BASE", BASE), request.script_root,
                         int(setting("PAGE_SIZE", 50)), request.script_root + request.path,
                         tuple(request.args.to_dict().items()))


def lookup(function: str, *args: Any) -> Any:
    """pagedata.<function>(store, *args), run in a query worker under its time, memory and
    admission limits; a QueryError it raises comes back as its status."""
    state = current_app.extensions["fentanyl_kg"]
    reply = state.executor.run(Call(f"fentanyl_kg.web.pagedata:{function}", args),
                               float(setting("QUERY_TIMEOUT", 10.0)))
    if isinstance(reply, Failure):
        raise QueryError(reply.message, reply.status)
    assert isinstance(reply, Result)
    return reply.value


def _quads(nquads: bytes) -> Callable[[], list[ox.Quad]]:
    """The quads a worker sent as N-Quads, for respond's RDF twins."""
    return lambda: list(ox.parse(nquads, format=ox.RdfFormat.N_QUADS))  # type: ignore


def split_suffix(path: str, offers: list[str]) -> tuple[str, str | None]:
    """(path without its suffix twin, the suffix's media type), or (path, None)."""
    for suffix, media in rdfout.SUFFIXES.items():
        if path.endswith(suffix) and media in offers:
            return path[: -len(suffix)], media
    return path, None


def negotiate(offers: list[str], path: str) -> tuple[str, str]:
    """(path without a suffix twin, media type): the suffix wins, else the Accept header; on a
    tie the earlier offer, so list JSON after the RDF types (JSON-LD wins when both are named)."""
    path, media = split_suffix(path, offers)
    if media is not None:
        return path, media
    best = conneg.best(conneg.parse(request.headers.get("Accept")),
                       [OFFERS[m] for m in offers])
    if best is None:
        raise QueryError("none of the requested media types is available here; this page "
                         f"comes as {', '.join(offers)}", 406)
    return path, best.media_type


def respond(data: dict[str, Any], template: str, media: str, base_path: str,
            rdf: Callable[[], list[ox.Quad]] | None = None, **extra: Any) -> Response:
    """The page as HTML, JSON or RDF (the quads `rdf` gives), with Link headers to its twins."""
    twins = {s: m for s, m in rdfout.SUFFIXES.items() if rdf is not None or m == JSON}
    if media == HTML:
        resp = Response(render_template(template, page=data, twins=twins, base_path=base_path,
                                        **extra), mimetype=HTML)
    elif media == JSON:
        resp = jsonify(data)
    else:
        assert rdf is not None
        resp = Response(rdfout.serialize(rdf(), media), mimetype=media)
    resp.headers["Vary"] = "Accept"
    alternate = ".ttl" if media == "application/ld+json" else ".jsonld" if rdf else ".json"
    resp.headers["Link"] = f'<{base_path}{alternate}>; rel="alternate"; type="{twins[alternate]}"'
    return cached(resp, media)


def cached(resp: Response, media: str) -> Response:
    """ETag and Cache-Control tied to the release: a page changes only with the data."""
    version = getattr(current_app.extensions["fentanyl_kg"], "version", "")
    key = "\n".join([version, request.script_root, request.full_path, media])
    resp.set_etag(hashlib.sha1(key.encode()).hexdigest()[:20])
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp.make_conditional(request)  # type: ignore[return-value]


@bp.get("/")
def index() -> Response:
    """The query page: editor, named queries, results with sources."""
    queries = named.named_queries()
    return cached(Response(render_template(
        "index.html", queries=list(queries.values()), prefixes=PREFIXES,
        named_texts={n: {"title": q.title, "text": q.text} for n, q in queries.items()},
        public_base=BASE, page_size=setting("PAGE_SIZE", 50),
        initial=request.args.get("query", "")), mimetype=HTML), HTML)


@bp.get("/id/<path:rest>")
def resource(rest: str) -> Response:
    """Dereference an IRI under <public base>id/: an entity, a claim or a source."""
    offers = [HTML, *RDF, JSON]
    stripped, suffix = split_suffix(rest, offers)
    try:
        accept: str | None = negotiate(offers, "")[1]
        not_acceptable = ""
    except QueryError as exc:  # decided in the worker: the IRI itself may end like a twin
        accept, not_acceptable = None, exc.message
    page = lookup("resource", site(), rest, stripped, accept, suffix, not_acceptable)
    local = f"{request.script_root}/id/{page['path']}"
    return respond(page["data"] or {}, page["template"], page["media"], local,
                   _quads(page["nquads"] or b""))


@bp.get("/ontology", defaults={"suffix": ""})
@bp.get("/ontology<any('.ttl','.jsonld','.nt','.rdf','.trig','.nq','.json'):suffix>")
def ontology(suffix: str) -> Response:
    """The ontology: every class, property and controlled value, with anchors (#Place)."""
    _, media = negotiate([HTML, *RDF, JSON], "ontology" + suffix)
    page = lookup("ontology", site(), media in rdfout.RDF_TYPES)
    return respond(page.get("data", {}), "ontology.html", media,
                   f"{request.script_root}/ontology", _quads(page.get("nquads", b"")))


@bp.get("/graph/<name>")
def graph(name: str) -> Response:
    """A page about one of the well-known named graphs; its RDF twins give what the graph is
    and its triples, MAX_ROWS a page (?page=2, ...; a Link rel="next" names the next page)."""
    path, media = negotiate([HTML, *RDF, JSON], name)
    local, size = f"{request.script_root}/graph/{path}", int(setting("MAX_ROWS", 10000))
    number = site().page("page")
    page = lookup("graph", path, number, size, media in RDF)
    if page is None:
        raise QueryError(f"there is no graph named '{path}' (try inferred, provenance, "
                         "ontology; each claim is a graph at /id/claim/...)", 404)
    data, count = page["data"], page["data"]["triples"]
    if media in RDF and number > 1 and (number - 1) * size >= count:
        raise QueryError(f"the {path} graph has {count} triples: page {number} is past its "
                         f"end at {size} a page", 404)
    resp = respond(data, "graph.html", media, local, _quads(page["nquads"] or b""))
    if media in RDF and number * size < count:
        suffix = next(s for s, m in rdfout.SUFFIXES.items() if m == media)
        resp.headers["Link"] += f', <{local}{suffix}?page={number + 1}>; rel="next"'
    return resp


@bp.get("/context.jsonld")
def jsonld_context() -> Response:
    """The JSON-LD context of our prefixes, as inlined (in part) in every JSON-LD answer."""
    resp = jsonify(jsonld.context())
    resp.mimetype = "application/ld+json"
    return cached(resp, "application/ld+json")


@bp.get("/dataset", defaults={"part": ""})
@bp.get("/dataset/<part>")
def dataset(part: str) -> Response:
    """The dataset IRIs of the VoID description dereference to it."""
    return redirect(f"{request.script_root}/.well-known/void", code=303)  # type: ignore


@bp.get("/sources", defaults={"suffix": ""})
@bp.get("/sources<any('.json'):suffix>")
def sources(suffix: str) -> Response:
    """Every source, with how many claims derive from it."""
    _, media = negotiate([HTML, JSON], "sources" + suffix)
    return respond(lookup("sources", site()), "sources.html", media,
                   f"{request.script_root}/sources")


@bp.get("/cite", defaults={"suffix": ""})
@bp.get("/cite<any('.json'):suffix>")
def cite(suffix: str) -> Response:
    """Supporting claims for a triple pattern (s, p, o; any may be empty) or a claim IRI."""
    _, media = negotiate([HTML, JSON], "cite" + suffix)
    return respond(lookup("cite", site()), "cite.html", media, f"{request.script_root}/cite")


@bp.get("/query/<name>")
def named_query(name: str) -> Response:
    """A named query with its parameter form and results (also .json and .csv)."""
    queries = named.named_queries()
    path, media = negotiate([HTML, JSON, CSV], name)
    if path.endswith(".csv"):
        path, media = path[:-4], CSV
    if path not in queries:
        raise QueryError(f"there is no named query '{path}'", 404)
    data = lookup("named_query", site(), path, media, int(setting("MAX_ROWS", 10000)))
    local = f"{request.script_root}/query/{path}"
    if media == CSV:
        return _csv(data, path)
    if media == JSON:
        resp = respond(data, "", JSON, local)
        resp.headers["Fentanyl-KG-Truncated"] = "true" if data.get("truncated") else "false"
        return resp
    args = {k: v for k, v in request.args.items() if v and k != "page"}
    return respond(data, "named_query.html", HTML, local,
                   query_string=urllib.parse.urlencode(args))


def _csv(result: dict[str, Any], name: str) -> Response:
    """A named query's answer (pagedata.named_query's CSV cells) as a spreadsheet download."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(result["variables"])
    for row in result["rows"]:
        writer.writerow(row)
    resp = Response(buf.getvalue(), mimetype=CSV)
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    resp.headers["Fentanyl-KG-Truncated"] = "true" if result["truncated"] else "false"
    return cached(resp, CSV)

