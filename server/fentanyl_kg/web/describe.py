"""What a page says about a resource, as plain data: the HTML templates and the .json twins
render the same dictionaries."""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox

from fentanyl_kg.namespaces import FKG
from fentanyl_kg.web.cite import Citer, TripleSupport
from fentanyl_kg.web.terms import (
    DCT_TITLE,
    FORMATTER_URL,
    LABEL_PROPERTIES,
    ONTOLOGY,
    PROVENANCE,
    RDF_TYPE,
    Labeller,
    Term,
    compact,
    graph_kind,
    local_path,
    quads,
    term_key,
    to_json,
)

PROV_DERIVED = ox.NamedNode("http://www.w3.org/ns/prov#wasDerivedFrom")
PRIMARY = ox.NamedNode(str(FKG) + "primarySource")
DCT_IDENTIFIER = "http://purl.org/dc/terms/identifier"
PageLink = Callable[[int], str]


@dataclass
class Context:
    """Everything a description needs: the store, per-request caches and the URL mapping."""

    store: ox.Store
    public_base: str
    root: str          # the app's script root, prefixed to local paths
    page_size: int

    def __post_init__(self) -> None:
        self.labels = Labeller(self.store)
        self.citer = Citer(self.store, self.labels)
        self._identifiers: dict[str, str | None] | None = None

    def href(self, value: str) -> str | None:
        return local_path(value, self.public_base, self.root)

    def term(self, term: Term) -> dict[str, Any]:
        """A term for display: its SPARQL JSON form plus a label and a link."""
        out: dict[str, Any] = to_json(term)
        if isinstance(term, ox.NamedNode):
            out["label"] = self.labels.label(term) or compact(term.value)
            out["href"] = self.href(term.value) or term.value
        return out

    def claims(self, iris: Sequence[str]) -> list[dict[str, Any]]:
        out = []
        for iri in iris:
            info = self.citer.claim(iri)
            if info:
                subject = ox.NamedNode(info["subject"]) if info["subject"] else None
                out.append({**info, "href": self.href(iri),
                            "source_href": self.href(info["source"]),
                            "subject_term": self.term(subject) if subject else None})
        return out

    def identifiers(self) -> dict[str, str | None]:
        """Identifier properties (sub-properties of dcterms:identifier, or with a formatter
        URL in the ontology) mapped to their formatter URL, if any."""
        if self._identifiers is None:
            q = f"""SELECT DISTINCT ?p ?f WHERE {{ GRAPH {ONTOLOGY} {{
                {{ ?p <http://www.w3.org/2000/01/rdf-schema#subPropertyOf>* <{DCT_IDENTIFIER}> }}
                UNION {{ ?p {FORMATTER_URL} [] }}
                OPTIONAL {{ ?p {FORMATTER_URL} ?f }} }} }}"""
            self._identifiers = {r["p"].value: r["f"].value if r["f"] else None  # type: ignore
                                 for r in self.store.query(q)}  # type: ignore[union-attr]
        return self._identifiers


def paged(items: Sequence[Any], page: int, size: int, link: PageLink) -> dict[str, Any]:
    """One page of a list, with the total and explicit links to the neighbouring pages."""
    pages = max(1, math.ceil(len(items) / size))
    page = min(max(page, 1), pages)
    return {"total": len(items), "page": page, "pages": pages, "size": size,
            "first": (page - 1) * size + 1 if items else 0,
            "last": min(page * size, len(items)),
            "items": list(items[(page - 1) * size: page * size]),
            "next": link(page + 1) if page < pages else None,
            "prev": link(page - 1) if page > 1 else None}


def cite_link(ctx: Context, t: tuple[Term, Term, Term]) -> str:
    args = {"s": f"<{t[0].value}>", "p": f"<{t[1].value}>", "o": str(t[2])}
    return f"{ctx.root}/cite?{urllib.parse.urlencode(args)}"


def fact(ctx: Context, ts: TripleSupport, show: str = "o") -> dict[str, Any]:
    """A fact row: the property, the other end, whether it is inferred and its citations."""
    ctx.citer.explain(ts)
    s, p, o = ts.triple
    other = o if show == "o" else s
    row = {"property": ctx.term(p), "value": ctx.term(other), "inferred": ts.inferred,
           "claims": ctx.claims(ts.all_claims()), "cite": cite_link(ctx, ts.triple),
           "rules": [d.because for d in ts.derivations]}
    if show == "o" and isinstance(o, ox.NamedNode) and ctx.href(o.value) and \
            not ctx.labels.label(o):
        row["nested"] = nested(ctx, o)
    return row


def nested(ctx: Context, node: ox.NamedNode) -> list[dict[str, Any]]:
    """The facts of an unlabelled node (a quantity, say), shown inline under its parent."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for q in quads(ctx.store, node, None, None, None):
        if graph_kind(q.g) == "claim" and q.p != RDF_TYPE:
            seen[(q.p.value, str(q.o))] = {"property": ctx.term(q.p),
                                                        "value": ctx.term(q.o)}
    return [seen[k] for k in sorted(seen)]


def entity(ctx: Context, node: ox.NamedNode, out_page: int, in_page: int,
           links: Callable[[str, int], str]) -> dict[str, Any]:
    """An entity page: labels, types, identifiers, and paged outgoing and incoming facts."""
    outgoing = ctx.citer.match(node, None, None)
    incoming = ctx.citer.match(None, None, node)
    idents = ctx.identifiers()
    labels = [ts for ts in outgoing if ts.triple[1] in LABEL_PROPERTIES]
    types = [ts for ts in outgoing if ts.triple[1] == RDF_TYPE]
    ids = [ts for ts in outgoing if ts.triple[1].value in idents]
    asserted_ids = {ts.triple[2].value for ts in ids if not ts.inferred}
    ids = [ts for ts in ids if not (ts.inferred and ts.triple[2].value in asserted_ids)]
    special = {id(ts) for ts in [*labels, *types, *ids]}
    others = [ts for ts in outgoing if id(ts) not in special and not (
        ts.inferred and ts.triple[1].value in idents)]
    others.sort(key=lambda ts: (ctx.term(ts.triple[1])["label"].lower(),
                                term_key(ts.triple[2])))
    incoming.sort(key=lambda ts: (ctx.term(ts.triple[1])["label"].lower(),
                                  (ctx.labels.label(ts.triple[0]) or ts.triple[0].value)))
    out_rows = paged(others, out_page, ctx.page_size, lambda n: links("out", n))
    out_rows["items"] = [fact(ctx, ts) for ts in out_rows["items"]]
    in_rows = paged(incoming, in_page, ctx.page_size, lambda n: links("in", n))
    in_rows["items"] = [fact(ctx, ts, show="s") for ts in in_rows["items"]]
    return {
        "kind": "entity", "iri": node.value, "label": ctx.labels.label(node) or
        compact(node.value),
        "labels": [{**fact(ctx, ts), "lang": getattr(ts.triple[2], "language", None)} for ts in
                   sorted(labels, key=lambda ts: (ts.triple[1].value, term_key(ts.triple[2])))],
        "types": [fact(ctx, ts) for ts in sorted(types, key=lambda ts: ts.inferred)],
        "identifiers": [{**fact(ctx, ts), "url": _format(idents.get(ts.triple[1].value),
                                                           ts.triple[2].value)} for ts in ids],
        "outgoing": out_rows, "incoming": in_rows}


def _format(template: str | None, value: str) -> str | None:
    if not template:
        return None
    url = template.replace("$1", urllib.parse.quote(value, safe="-._~:"))
    return url if url.startswith(("https://", "http://")) else None


def claim(ctx: Context, node: ox.NamedNode) -> dict[str, Any] | None:
    """A claim page: its provenance and the triples of its graph."""
    info = ctx.claims([node.value])
    if not info:
        return None
    triples = sorted(quads(ctx.store, g=node),
                     key=lambda q: (q.s.value, q.p.value, term_key(q.o)))
    return {"kind": "claim", "iri": node.value, "label": info[0]["text"], "claim": info[0],
            "triples": [{"s": ctx.term(q.s), "p": ctx.term(q.p), "o": ctx.term(q.o)}
                        for q in triples]}


def source(ctx: Context, node: ox.NamedNode, page: int, primary_page: int,
           links: Callable[[str, int], str]) -> dict[str, Any]:
    """A source page: its bibliographic record and every claim derived from it."""
    meta = [{"property": ctx.term(q.p), "value": ctx.term(q.o)}
            for q in quads(ctx.store, node, None, None, PROVENANCE)]
    meta.sort(key=lambda m: m["property"]["label"].lower())
    copies = []
    for q in quads(ctx.store, node, None, None, PROVENANCE):
        if isinstance(q.o, ox.NamedNode) and q.o.value.startswith(node.value + "/"):
            copies.append({"iri": q.o.value, "href": ctx.href(q.o.value), "facts": [
                {"property": ctx.term(c.p), "value": ctx.term(c.o)}
                for c in quads(ctx.store, q.o, None, None, PROVENANCE)]})

    def claims_with(prop: ox.NamedNode) -> list[str]:
        iris = [q.s.value for q in quads(ctx.store, None, prop, node,
                                                                     PROVENANCE)]
        return sorted(iris, key=lambda i: ((ctx.citer.claim(i) or {}).get("record_id") or "", i))

    derived = paged(claims_with(PROV_DERIVED), page, ctx.page_size, lambda n: links("page", n))
    derived["items"] = ctx.claims(derived["items"])
    primary = paged(claims_with(PRIMARY), primary_page, ctx.page_size,
                    lambda n: links("primary", n))
    primary["items"] = ctx.claims(primary["items"])
    title = [q.o.value for q in quads(ctx.store, node, DCT_TITLE, None, None)]
    return {"kind": "source", "iri": node.value, "label": title[0] if title else node.value,
            "metadata": meta, "copies": copies, "claims": derived, "primary_for": primary}


def generic(ctx: Context, node: ox.NamedNode) -> dict[str, Any]:
    """Any other resource under the base (a consulted copy, say): all its triples."""
    rows = [{"property": ctx.term(q.p), "value": ctx.term(q.o),
             "graph": ctx.term(q.g)}
            for q in quads(ctx.store, node, None, None, None)
            if isinstance(q.g, ox.NamedNode)]
    rows.sort(key=lambda r: (r["property"]["label"], r["value"]["value"]))
    return {"kind": "resource", "iri": node.value, "label": ctx.labels.label(node) or
            compact(node.value), "facts": rows}
