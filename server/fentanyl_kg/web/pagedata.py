"""What the pages need from the store, computed in a query worker (query/jobs.py CALLS).

Each function takes the store and plain arguments and returns plain data (dicts, lists, str,
bytes), so the Flask views only negotiate and render, and every store read a stranger can
trigger runs under the workers' time, memory and admission limits. No Flask here."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox

from fentanyl_kg.errors import QueryError
from fentanyl_kg.namespaces import BASE
from fentanyl_kg.web import describe, named, rdfout
from fentanyl_kg.web.cite import row_citations as cite_rows
from fentanyl_kg.web.citeview import cite_page
from fentanyl_kg.web.ontology import ontology as ontology_page
from fentanyl_kg.web.terms import (
    GRAPH_NAMES,
    LABEL_PROPERTIES,
    PROVENANCE,
    RDF_TYPE,
    graph_kind,
    iri,
    quads,
)

CLAIM_CLASS = ox.NamedNode(BASE + "ontology#Claim")
SOURCE_CLASS = ox.NamedNode("http://purl.org/dc/terms/BibliographicResource")
TOO_DEEP = "The query is too deeply nested to cite its rows; ask without citations=1."


@dataclass(frozen=True)
class Site:
    """The request's view of the site: public base, script root, page size, and the page's
    own path (script root included) and query arguments, for the page links."""

    public_base: str
    root: str
    page_size: int
    path: str
    args: tuple[tuple[str, str], ...]

    def context(self, store: ox.Store) -> describe.Context:
        """A describe.Context for one request."""
        return describe.Context(store, self.public_base, self.root, self.page_size)

    def arg(self, name: str, default: str = "") -> str:
        """The first value of a query argument."""
        return dict(self.args).get(name, default)

    def link(self, param: str, number: int) -> str:
        """This page's URL with one query parameter changed (the page links)."""
        args = {**dict(self.args), param: str(number)}
        return f"{self.path}?{urllib.parse.urlencode(args)}"

    def page(self, name: str) -> int:
        """A page number argument, or a 400 QueryError."""
        raw = self.arg(name, "1")
        if not raw.isdigit() or int(raw) < 1:
            raise QueryError(f"'{name}' must be a page number (1, 2, ...), not {raw!r}")
        return int(raw)


def _nquads(found: list[ox.Quad]) -> bytes:
    return ox.serialize(found, format=ox.RdfFormat.N_QUADS) or b""


def row_citations(store: ox.Store, query_text: str,
                  rows: list[Mapping[str, Any]]) -> list[list[dict[str, Any]]]:
    """cite.row_citations, with a query too deep for rdflib's parser as a 400."""
    try:
        return cite_rows(store, query_text, rows)
    except RecursionError:
        raise QueryError(TOO_DEEP) from None


def resource(store: ox.Store, site: Site, rest: str, stripped: str, accept: str | None,
             suffix: str | None, not_acceptable: str) -> dict[str, Any]:
    """An /id/ page: the IRI itself if known (`accept` media), else the IRI without its suffix
    twin (`suffix` media, else `accept`). Returns template, media, path and either the page
    data or, for an RDF media type, its quads as N-Quads."""
    base = site.public_base
    # The data's IRIs are under PUBLIC_BASE or, as every build writes them, under BASE.
    bases = list(dict.fromkeys([base, BASE]))
    node = _found(store, bases, rest)
    if node is not None:  # the IRI itself, even if it ends like a twin
        path, media = rest, accept
        if media is None:
            raise QueryError(not_acceptable, 406)
    else:
        path, media = stripped, suffix or accept
        if media is None:
            raise QueryError(not_acceptable, 406)
        node = _found(store, bases, path)
        if node is None:
            raise QueryError(f"nothing is known about <{base}id/{rest}>", 404)
    found_base = next(b for b in bases if node.value.startswith(b))
    ctx = describe.Context(store, found_base, site.root, site.page_size)
    rdf = media in rdfout.RDF_TYPES
    if _is_a(store, node, CLAIM_CLASS):
        template = "claim.html"
        data = None if rdf else describe.claim(ctx, node) or {}
        found = rdfout.claim_quads(store, node) if rdf else []
    elif _is_a(store, node, SOURCE_CLASS):
        template = "source.html"
        data = None if rdf else describe.source(ctx, node, site.page("page"),
                                                 site.page("primary"), site.link)
        found = rdfout.source_quads(store, node) if rdf else []
    elif _in_claims(store, node):
        template = "entity.html"
        data = None if rdf else describe.entity(ctx, node, site.page("out"), site.page("in"),
                                                 site.link)
        found = rdfout.entity_quads(store, node) if rdf else []
    else:
        template = "resource.html"
        data = None if rdf else describe.generic(ctx, node)
        found = rdfout.resource_quads(store, node) if rdf else []
    return {"template": template, "media": media, "path": path, "data": data,
            "nquads": _nquads(found) if rdf else None}


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


def ontology(store: ox.Store, site: Site, rdf: bool) -> dict[str, Any]:
    """The ontology page's data, or its quads as N-Quads."""
    if rdf:
        return {"nquads": _nquads(rdfout.ontology_quads(store))}
    return {"data": ontology_page(site.context(store))}


def graph(store: ox.Store, name: str, page: int, size: int,
          rdf: bool) -> dict[str, Any] | None:
    """A well-known named graph's page data and, for an RDF twin, page `page` of its quads
    (`size` a page) as N-Quads; None if there is no such graph."""
    node = GRAPH_NAMES.get(name)
    if node is None:
        return None
    label = f"The {name} graph"
    count = sum(1 for _ in store.quads_for_pattern(None, None, None, node))
    data = {"kind": "graph", "iri": node.value, "label": label, "name": name, "triples": count}
    found = rdfout.graph_quads(store, node, label, count, page, size) if rdf else []
    return {"data": data, "nquads": _nquads(found) if rdf else None}


def sources(store: ox.Store, site: Site) -> dict[str, Any]:
    """Every source, with how many claims derive from it."""
    ctx = site.context(store)
    rows: list[dict[str, Any]] = []
    for q in quads(ctx.store, None, RDF_TYPE, SOURCE_CLASS, PROVENANCE):
        n = sum(1 for _ in quads(ctx.store, None, describe.PROV_DERIVED, q.s, PROVENANCE))
        rows.append({"source": ctx.term(q.s), "claims": n})
    rows.sort(key=lambda r: str(r["source"]["label"]).lower())
    return {"kind": "sources", "label": "Sources",
            "sources": describe.paged(rows, site.page("page"), ctx.page_size,
                                      lambda n: site.link("page", n))}


def cite(store: ox.Store, site: Site) -> dict[str, Any]:
    """/cite?s=&p=&o= or /cite?claim=...: the page data."""
    return cite_page(site.context(store), dict(site.args), site.page("page"),
                     lambda n: site.link("page", n))


def named_query(store: ox.Store, site: Site, name: str, media: str,
                max_rows: int) -> dict[str, Any]:
    """A named query run with the page's arguments: CSV cells, SPARQL JSON with citations, or
    the HTML page's data."""
    query = named.named_queries().get(name)
    if query is None:
        raise QueryError(f"there is no named query '{name}'", 404)
    args = dict(site.args)
    result = named.run(store, query, named.bind(store, query, args), max_rows)
    if media == "text/csv":
        return {"variables": result.variables, "truncated": result.truncated,
                "rows": [[named.spreadsheet_cell(row.get(v)) for v in result.variables]
                         for row in result.rows]}
    citations = row_citations(store, query.text, result.rows)  # type: ignore[arg-type]
    if media == "application/json":
        return named.json_results(result, citations)
    ctx = site.context(store)
    rows = [{"cells": [ctx.term(row[v]) if v in row else None for v in result.variables],
             "claims": ctx.claims([c["claim"] for c in sorted(cites, key=_naming_only)])}
            for row, cites in zip(result.rows, citations, strict=True)]
    return {"kind": "query", "name": name, "label": query.title,
            "description": query.description,
            "params": [{"name": p.name, "kind": p.kind, "meaning": p.meaning,
                        "value": args.get(p.name, "")} for p in query.params],
            "text": query.text, "variables": result.variables, "truncated": result.truncated,
            "rows": describe.paged(rows, site.page("page"), ctx.page_size,
                                   lambda n: site.link("page", n))}


def _naming_only(claim: dict[str, Any]) -> int:
    """Sort key: claims that state a row's facts before those that only name or type."""
    naming = {RDF_TYPE.value, *(p.value for p in LABEL_PROPERTIES)}
    return -sum(s["p"]["value"] not in naming for s in claim["supports"])
