"""The RDF twins of the pages: which quads describe a resource, and their serialisations.

In the triple formats a page is the set of its triples. In the dataset formats (TriG,
N-Quads) each triple is given in the default graph and again in the claim (or provenance,
inferred, ontology) graph that holds it: a client that queries a document's default graph, as
Comunica does, sees the same triples as in the Turtle twin, and the graphs stay for clients
that follow provenance.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

import pyoxigraph as ox

from fentanyl_kg.namespaces import BASE, PREFIXES
from fentanyl_kg.web import jsonld
from fentanyl_kg.web.terms import ONTOLOGY, PROVENANCE, graph_kind

# media type -> (pyoxigraph format, keeps graph names)
RDF_TYPES: dict[str, tuple[ox.RdfFormat, bool]] = {
    "text/turtle": (ox.RdfFormat.TURTLE, False),
    "application/ld+json": (ox.RdfFormat.JSON_LD, False),
    "application/n-triples": (ox.RdfFormat.N_TRIPLES, False),
    "application/rdf+xml": (ox.RdfFormat.RDF_XML, False),
    "application/trig": (ox.RdfFormat.TRIG, True),
    "application/n-quads": (ox.RdfFormat.N_QUADS, True),
}
SUFFIXES = {".ttl": "text/turtle", ".jsonld": "application/ld+json",
            ".nt": "application/n-triples", ".rdf": "application/rdf+xml",
            ".trig": "application/trig",
            ".nq": "application/n-quads", ".json": "application/json"}
PROV_DERIVED = ox.NamedNode("http://www.w3.org/ns/prov#wasDerivedFrom")
PRIMARY = ox.NamedNode(PREFIXES["fkg"] + "primarySource")
VOID = "http://rdfs.org/ns/void#"
LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")


def entity_quads(store: ox.Store, node: ox.NamedNode) -> list[ox.Quad]:
    """Facts about an entity in either direction (claims and inferred), and the provenance
    of the claims that state them."""
    quads = [q for q in [*store.quads_for_pattern(node, None, None),
                         *store.quads_for_pattern(None, None, node)]
             if graph_kind(q.graph_name) in ("claim", "inferred")]
    claims = {q.graph_name for q in quads if graph_kind(q.graph_name) == "claim"}
    for c in sorted(claims, key=str):
        if isinstance(c, ox.NamedNode):
            quads += store.quads_for_pattern(c, None, None, PROVENANCE)
    return quads


def claim_quads(store: ox.Store, node: ox.NamedNode) -> list[ox.Quad]:
    """The claim graph and the claim's provenance."""
    return [*store.quads_for_pattern(None, None, None, node),
            *store.quads_for_pattern(node, None, None, PROVENANCE)]


def source_quads(store: ox.Store, node: ox.NamedNode) -> list[ox.Quad]:
    """The source's record, its consulted copies and the claims derived from it."""
    quads = list(store.quads_for_pattern(node, None, None, PROVENANCE))
    for q in list(quads):
        if isinstance(q.object, ox.NamedNode) and q.object.value.startswith(node.value + "/"):
            quads += store.quads_for_pattern(q.object, None, None, PROVENANCE)
    for prop in (PROV_DERIVED, PRIMARY):
        quads += store.quads_for_pattern(None, prop, node, PROVENANCE)
    return quads


def resource_quads(store: ox.Store, node: ox.NamedNode) -> list[ox.Quad]:
    """Any other resource: every quad it is the subject of."""
    return list(store.quads_for_pattern(node, None, None, None))


def ontology_quads(store: ox.Store) -> list[ox.Quad]:
    return list(store.quads_for_pattern(None, None, None, ONTOLOGY))


def graph_quads(store: ox.Store, node: ox.NamedNode, label: str, total: int, page: int,
                size: int) -> list[ox.Quad]:
    """A well-known graph: what it is and its size, then page `page` of its quads, `size` a page
    (in the store's own order, which is stable for a release)."""
    start = (page - 1) * size
    content = list(islice(store.quads_for_pattern(None, None, None, node), start, start + size))
    return [ox.Quad(node, LABEL, ox.Literal(label, language="en")),
            ox.Quad(node, ox.NamedNode(VOID + "triples"),
                    ox.Literal(str(total), datatype=ox.NamedNode(
                        "http://www.w3.org/2001/XMLSchema#integer"))),
            ox.Quad(node, ox.NamedNode(VOID + "inDataset"), ox.NamedNode(BASE + "dataset")),
            *content]


def serialize(quads: Iterable[ox.Quad], media_type: str) -> bytes:
    """Quads in a dataset format, or their triples (without repeats) in a graph format."""
    fmt, keeps_graphs = RDF_TYPES[media_type]
    quads = set(quads)
    if keeps_graphs:
        quads |= {ox.Quad(q.subject, q.predicate, q.object) for q in quads}
    ordered = sorted(quads, key=lambda q: (isinstance(q.graph_name, ox.NamedNode),
                                           str(q.graph_name), str(q.subject),
                                           str(q.predicate), str(q.object)))
    if keeps_graphs:
        data = ox.serialize(ordered, format=fmt, prefixes=_prefixes(fmt, ordered))
    elif fmt == ox.RdfFormat.JSON_LD:
        data = jsonld.serialize(q.triple for q in ordered)
    else:
        triples = sorted({q.triple for q in ordered}, key=str)
        data = ox.serialize(triples, format=fmt, prefixes=_prefixes(fmt, ordered))
    assert data is not None  # serialize returns bytes when given no output file
    return data


def _prefixes(fmt: ox.RdfFormat, quads: list[ox.Quad]) -> dict[str, str] | None:
    """The project's prefixes that the data uses, for the formats that abbreviate."""
    if fmt not in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG, ox.RdfFormat.RDF_XML):
        return None
    used = {t.value for q in quads for t in (q.subject, q.predicate, q.object, q.graph_name)
            if isinstance(t, ox.NamedNode)} | {q.object.datatype.value for q in quads
                                               if isinstance(q.object, ox.Literal)}
    return {p: ns for p, ns in PREFIXES.items() if any(v.startswith(ns) for v in used)}
