"""The ontology page: every term of the ontology graph with its labels, comments and axioms."""

from __future__ import annotations

from typing import Any

import pyoxigraph as ox

from fentanyl_kg.namespaces import FKG
from fentanyl_kg.web.describe import Context
from fentanyl_kg.web.terms import (
    LABEL_PROPERTIES,
    ONTOLOGY,
    RDF_TYPE,
    RDFS_COMMENT,
    Fact,
    Term,
    compact,
    quads,
    term_key,
)

OWL = "http://www.w3.org/2002/07/owl#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
RDF_FIRST = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#first")
RDF_REST = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#rest")
SECTIONS = (  # (heading, type IRI) in page order; a term goes in the first that fits
    ("Ontology", OWL + "Ontology"), ("Classes", OWL + "Class"),
    ("Object properties", OWL + "ObjectProperty"),
    ("Datatype properties", OWL + "DatatypeProperty"),
    ("Annotation properties", OWL + "AnnotationProperty"),
    ("Concept schemes", SKOS + "ConceptScheme"))


def anchor(iri: str) -> str:
    """The fragment id of a term on the page: the local name in our namespace, else compact."""
    return iri[len(str(FKG)):] if iri.startswith(str(FKG)) else compact(iri)


def render(ctx: Context, term: Term) -> dict[str, Any]:
    """A term, with RDF lists (as in owl:propertyChainAxiom) spelt out as their members."""
    if isinstance(term, ox.BlankNode):
        items = _list(ctx.store, term)
        if items is not None:
            return {"type": "list", "items": [render(ctx, x) for x in items]}
        return {"type": "bnode", "value": "[ ]"}
    return ctx.term(term)  # fkg: terms link to /ontology#Name through the public base


def _list(store: ox.Store, node: ox.BlankNode) -> list[Term] | None:
    items: list[Term] = []
    cur: Term = node
    for _ in range(100):
        if isinstance(cur, ox.NamedNode) and cur.value.endswith("#nil"):
            return items
        first = [q.o for q in quads(store, cur, RDF_FIRST, None, ONTOLOGY)]
        rest = [q.o for q in quads(store, cur, RDF_REST, None, ONTOLOGY)]
        if not first or not rest:
            return None
        items.append(first[0])
        cur = rest[0]
    return None


def ontology(ctx: Context) -> dict[str, Any]:
    """Every named term of the ontology graph, grouped by kind, with all its triples."""
    by_subject: dict[str, list[Fact]] = {}
    for q in quads(ctx.store, None, None, None, ONTOLOGY):
        if isinstance(q.s, ox.NamedNode):
            by_subject.setdefault(q.s.value, []).append(q)
    sections: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in SECTIONS}
    sections["Controlled values"] = []
    sections["Other terms"] = []
    for iri in sorted(by_subject, key=lambda i: (not i.startswith(str(FKG)), i.lower())):
        facts = by_subject[iri]
        types = {q.o.value for q in facts if q.p == RDF_TYPE}
        heading = next((name for name, t in SECTIONS if t in types), None)
        if heading is None:
            heading = "Controlled values" if any(
                q.p.value == SKOS + "inScheme" for q in facts) else "Other terms"
        sections[heading].append(_term(ctx, ox.NamedNode(iri), facts))
    return {"kind": "ontology", "iri": str(FKG).rstrip("#"), "label": "Ontology",
            "sections": [{"heading": h, "terms": t} for h, t in sections.items() if t]}


def _term(ctx: Context, node: ox.NamedNode, facts: list[Fact]) -> dict[str, Any]:
    labels = sorted((q.o for q in facts if q.p in LABEL_PROPERTIES
                     and isinstance(q.o, ox.Literal)), key=term_key)
    comments = [q.o.value for q in facts if q.p == RDFS_COMMENT]
    axioms = sorted((q for q in facts if q.p not in LABEL_PROPERTIES and q.p != RDFS_COMMENT),
                    key=lambda q: (q.p.value, str(q.o)))
    types = {q.o.value for q in facts if q.p == RDF_TYPE}
    uses = {"p": f"<{node.value}>"}
    if OWL + "Class" in types:
        uses = {"p": "rdf:type", "o": f"<{node.value}>"}
    elif not types & {OWL + "ObjectProperty", OWL + "DatatypeProperty",
                      OWL + "AnnotationProperty"}:
        uses = {"o": f"<{node.value}>"}
    return {"iri": node.value, "anchor": anchor(node.value), "compact": compact(node.value),
            "label": ctx.labels.label(node) or compact(node.value),
            "labels": [{"value": lit.value, "lang": lit.language} for lit in labels],
            "comments": comments, "uses": uses,
            "axioms": [{"property": render(ctx, q.p), "value": render(ctx, q.o)}
                       for q in axioms]}
