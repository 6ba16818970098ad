"""Identifier links: skos:exactMatch IRIs derived from literal ids, and their coverage per class.

The ontology gives an identifier property an `fkg:iriTemplate`; this module knows no registry."""

from __future__ import annotations

import re
from collections import defaultdict

from rdflib import RDF, Dataset, Graph, Literal, URIRef
from rdflib.namespace import SKOS
from rdflib.term import Node

from fentanyl_kg.namespaces import FKG, ONTOLOGY_GRAPH, PROVENANCE_GRAPH
from fentanyl_kg.statements import Location

Triple = tuple[Node, Node, Node]
# An id is substituted into an IRI as written, so it may only hold characters that need no escaping.
SAFE_ID = re.compile(r"^[A-Za-z0-9._~-]+$")


def iri_templates(ontology: Graph) -> dict[URIRef, str]:
    """Each identifier property's IRI template (`$1` stands for the id), from the ontology."""
    return {p: str(t) for p, t in ontology.subject_objects(FKG.iriTemplate)
            if isinstance(p, URIRef) and isinstance(t, Literal)}


def link_iri(template: str, value: str) -> URIRef:
    """The entity IRI a template gives for an identifier value."""
    return URIRef(template.replace("$1", value))


def exact_matches(triples: list[Triple], templates: dict[URIRef, str],
                  at: Location) -> list[Triple]:
    """A skos:exactMatch triple for every literal id whose property has an IRI template."""
    out: list[Triple] = []
    for s, p, o in triples:
        template = templates.get(p)  # type: ignore[call-overload]
        if template is None or not isinstance(o, Literal):
            continue
        if not SAFE_ID.match(str(o)):
            raise at.error(f"identifier {str(o)!r} cannot be made into a link IRI "
                           f"(only letters, digits and . _ ~ -)")
        out.append((s, SKOS.exactMatch, link_iri(template, str(o))))
    return out


def coverage(ds: Dataset, ontology: Graph) -> list[str]:
    """One line per class whose instances carry ids: how many instances have each identifier."""
    id_props = set(ontology.transitive_subjects(
        URIRef("http://www.w3.org/2000/01/rdf-schema#subPropertyOf"), FKG.identifier))
    id_props.discard(FKG.identifier)
    members: dict[URIRef, set[Node]] = defaultdict(set)
    has: dict[tuple[Node, Node], set[Node]] = defaultdict(set)  # (subject, property) -> values
    for s, p, o, g in ds.quads((None, None, None, None)):
        if g in (ONTOLOGY_GRAPH, PROVENANCE_GRAPH):
            continue
        if p == RDF.type and isinstance(o, URIRef) and o.startswith(str(FKG)):
            members[o].add(s)
        elif p in id_props:
            has[(s, p)].add(o)
    lines = []
    for cls in sorted(members, key=str):
        props = sorted({p for (s, p) in has if s in members[cls]}, key=str)
        if not props:
            continue
        total = len(members[cls])
        counts = ", ".join(
            f"{sum(1 for s in members[cls] if (s, p) in has)}/{total} {_local(p)}"
            for p in props)
        lines.append(f"links: {_local(cls)} {counts}")
    return lines


def _local(iri: Node) -> str:
    return str(iri).rsplit("/", 1)[-1].rsplit("#", 1)[-1]
