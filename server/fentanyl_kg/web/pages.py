"""Blueprint `pages`: the query page, Linked Data pages, /cite and the named queries.

Every IRI under the public base is served at the matching local path (…/id/sonora at
/id/sonora, …/ontology#Place at /ontology). Each page comes as HTML, as JSON (the same data the
template renders) and as RDF (Turtle, JSON-LD, N-Triples, RDF/XML, TriG, N-Quads), by content
negotiation or by a suffix twin: /id/sonora.ttl, .jsonld, .nt, .rdf, .trig, .nq, .json.
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
from fentanyl_kg.web import describe, named, rdfout
from fentanyl_kg.web.cite import row_citations
from fentanyl_kg.web.citeview import cite_page
from fentanyl_kg.web.ontology import ontology as ontology_page
from fentanyl_kg.web.terms import (
    GRAPH_NAMES,
    LABEL_PROPERTIES,
    PROVENANCE,
    RDF_TYPE,
    compact,
    graph_kind,
    iri,
    quads,
)

bp = Blueprint("pages", __name__, template_folder="templates", static_folder="static",
               static_url_path="/assets")
HTML, JSON, CSV = "text/html", "application/json", "text/csv"
RDF = list(rdfout.RDF_TYPES)
CLAIM_CLASS = ox.NamedNode(BASE + "ontology#Claim")
SOURCE_CLASS = ox.NamedNode("http://purl.org/dc/terms/BibliographicResource")


@bp.app_template_filter("link_target")
def link_target(value: str | None) -> str:
    """A URL fit for href: local paths and http(s) URLs pass, anything else becomes '#'."""
    text = str(value or "")
    if (text.startswith("/") and not text.startswith("//")) or \
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


def store() -> ox.Store:
    return current_app.extensions["fentanyl_kg"].store  # type: ignore[no-any-return]


def context(base: str = BASE) -> describe.Context:
    """What a page description needs; IRIs under `base` link to this server's paths."""
    return describe.Context(store(), base, request.script_root, int(setting("PAGE_SIZE", 50)))


def page_number(name: str) -> int:
    raw = request.args.get(name, "1")
    if not raw.isdigit() or int(raw) < 1:
        raise QueryError(f"'{name}' must be a page number (1, 2, ...), not {raw!r}")
    return int(raw)


def link_to(param: str, number: int) -> str:
    """This page's URL with one query parameter changed (the page links)."""
    args = {**request.args.to_dict(), param: str(number)}
    return f"{request.script_root}{request.path}?{urllib.parse.urlencode(args)}"


def split_suffix(path: str, offers: list[str]) -> tuple[str, str | None]:
    """(path without its suffix twin, the suffix's media type), or (path, None)."""
    for suffix, media in rdfout.SUFFIXES.items():
        if path.endswith(suffix) and media in offers:
            return path[: -len(suffix)], media
    return path, None


def negotiate(offers: list[str], path: str) -> tuple[str, str]:
    """(path without a suffix twin, media type): the suffix wins, else the Accept header."""
    path, media = split_suffix(path, offers)
    if media is not None:
        return path, media
    if not request.accept_mimetypes:
        return path, offers[0]
    best = request.accept_mimetypes.best_match(offers)
    if best is None:
        raise QueryError("none of the requested media types is available here; this page "
                         f"comes as {', '.join(offers)}", 406)
    return path, best


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
    resp.headers["Link"] = ", ".join(f'<{base_path}{s}>; rel="alternate"; type="{m}"'
                                     for s, m in twins.items())
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
    st, base, offers = store(), setting("PUBLIC_BASE", BASE), [HTML, JSON, *RDF]
    # The data's IRIs are under PUBLIC_BASE or, as every build writes them, under BASE.
    bases = list(dict.fromkeys([base, BASE]))
    node = _found(st, bases, rest)
    if node is not None:  # the IRI itself, even if it ends like a twin
        path, media = rest, negotiate(offers, "")[1]
    else:
        path, media = negotiate(offers, rest)
        node = _found(st, bases, path)
        if node is None:
            raise QueryError(f"nothing is known about <{base}id/{rest}>", 404)
    ctx = context(next(b for b in bases if node.value.startswith(b)))
    local = f"{request.script_root}/id/{path}"
    if _is_a(st, node, CLAIM_CLASS):
        data = describe.claim(ctx, node)
        return respond(data or {}, "claim.html", media, local,
                       lambda: rdfout.claim_quads(st, node))
    if _is_a(st, node, SOURCE_CLASS):
        data = describe.source(ctx, node, page_number("page"), page_number("primary"), link_to)
        return respond(data, "source.html", media, local, lambda: rdfout.source_quads(st, node))
    if _in_claims(st, node):
        data = describe.entity(ctx, node, page_number("out"), page_number("in"), link_to)
        return respond(data, "entity.html", media, local, lambda: rdfout.entity_quads(st, node))
    return respond(describe.generic(ctx, node), "resource.html", media, local,
                   lambda: rdfout.resource_quads(st, node))


def _found(st: ox.Store, bases: list[str], rest: str) -> ox.NamedNode | None:
    """The first of <base>id/<rest> over `bases` that the store knows, else None."""
    for base in bases:
        node = _node(base + "id/" + rest)
        if node is not None and _exists(st, node):
            return node
    return None


def _node(value: str) -> ox.NamedNode | None:
    try:
        return iri(value)
    except QueryError:
        return None


def _exists(st: ox.Store, node: ox.NamedNode) -> bool:
    return any(True for _ in quads(st, node, None, None, None)) or \
        any(True for _ in quads(st, None, None, node, None))


def _is_a(st: ox.Store, node: ox.NamedNode, cls: ox.NamedNode) -> bool:
    return any(True for _ in quads(st, node, RDF_TYPE, cls, PROVENANCE))


def _in_claims(st: ox.Store, node: ox.NamedNode) -> bool:
    return any(graph_kind(q.g) in ("claim", "inferred")
               for q in [*quads(st, node), *quads(st, o=node)])


@bp.get("/ontology", defaults={"suffix": ""})
@bp.get("/ontology<any('.ttl','.jsonld','.nt','.rdf','.trig','.nq','.json'):suffix>")
def ontology(suffix: str) -> Response:
    """The ontology: every class, property and controlled value, with anchors (#Place)."""
    _, media = negotiate([HTML, JSON, *RDF], "ontology" + suffix)
    st = store()
    return respond(ontology_page(context()), "ontology.html", media,
                   f"{request.script_root}/ontology", lambda: rdfout.ontology_quads(st))


@bp.get("/graph/<name>")
def graph(name: str) -> Response:
    """A page about one of the well-known named graphs."""
    path, media = negotiate([HTML, JSON], name)
    node = GRAPH_NAMES.get(path)
    if node is None:
        raise QueryError(f"there is no graph named '{path}' (try inferred, provenance, "
                         "ontology; each claim is a graph at /id/claim/...)", 404)
    count = sum(1 for _ in store().quads_for_pattern(None, None, None, node))
    data = {"kind": "graph", "iri": node.value, "label": f"The {path} graph",
            "name": path, "triples": count}
    return respond(data, "graph.html", media, f"{request.script_root}/graph/{path}")


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
    ctx = context()
    rows: list[dict[str, Any]] = []
    for q in quads(ctx.store, None, RDF_TYPE, SOURCE_CLASS, PROVENANCE):
        n = sum(1 for _ in quads(ctx.store, None, describe.PROV_DERIVED, q.s, PROVENANCE))
        rows.append({"source": ctx.term(q.s), "claims": n})
    rows.sort(key=lambda r: str(r["source"]["label"]).lower())
    data = {"kind": "sources", "label": "Sources",
            "sources": describe.paged(rows, page_number("page"), ctx.page_size,
                                      lambda n: link_to("page", n))}
    return respond(data, "sources.html", media, f"{request.script_root}/sources")


@bp.get("/cite", defaults={"suffix": ""})
@bp.get("/cite<any('.json'):suffix>")
def cite(suffix: str) -> Response:
    """Supporting claims for a triple pattern (s, p, o; any may be empty) or a claim IRI."""
    _, media = negotiate([HTML, JSON], "cite" + suffix)
    data = cite_page(context(), request.args, page_number("page"), lambda n: link_to("page", n))
    return respond(data, "cite.html", media, f"{request.script_root}/cite")


@bp.get("/query/<name>")
def named_query(name: str) -> Response:
    """A named query with its parameter form and results (also .json and .csv)."""
    queries = named.named_queries()
    path, media = negotiate([HTML, JSON, CSV], name)
    if path.endswith(".csv"):
        path, media = path[:-4], CSV
    query = queries.get(path)
    if query is None:
        raise QueryError(f"there is no named query '{path}'", 404)
    st = store()
    values = named.bind(st, query, request.args)
    result = named.run(st, query, values, int(setting("MAX_ROWS", 10000)))
    local = f"{request.script_root}/query/{path}"
    if media == CSV:
        return _csv(result, path)
    citations = row_citations(st, query.text, result.rows)
    if media == JSON:
        return respond(named.json_results(result, citations), "", JSON, local)
    ctx = context()
    rows = [{"cells": [ctx.term(row[v]) if v in row else None for v in result.variables],
             "claims": ctx.claims([c["claim"] for c in sorted(cites, key=_naming_only)])}
            for row, cites in zip(result.rows, citations, strict=True)]
    data = {"kind": "query", "name": path, "label": query.title, "description": query.description,
            "params": [{"name": p.name, "kind": p.kind, "meaning": p.meaning,
                        "value": request.args.get(p.name, "")} for p in query.params],
            "text": query.text, "variables": result.variables, "truncated": result.truncated,
            "rows": describe.paged(rows, page_number("page"), ctx.page_size,
                                   lambda n: link_to("page", n))}
    args = {k: v for k, v in request.args.items() if v and k != "page"}
    return respond(data, "named_query.html", HTML, local,
                   query_string=urllib.parse.urlencode(args))


def _naming_only(claim: dict[str, Any]) -> int:
    """Sort key: claims that state a row's facts before those that only name or type."""
    naming = {RDF_TYPE.value, *(p.value for p in LABEL_PROPERTIES)}
    return -sum(s["p"]["value"] not in naming for s in claim["supports"])


def _csv(result: named.Result, name: str) -> Response:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(result.variables)
    for row in result.rows:
        writer.writerow([named.csv_cell(row.get(v)) for v in result.variables])
    resp = Response(buf.getvalue(), mimetype=CSV)
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    resp.headers["Fentanyl-KG-Truncated"] = "true" if result.truncated else "false"
    return cached(resp, CSV)

