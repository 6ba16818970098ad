"""OWL 2 RL closure with owlrl, keeping only new, non-trivial conclusions about our entities."""

from __future__ import annotations

from dataclasses import dataclass

import owlrl
from rdflib import RDF, RDFS, Dataset, Graph, Literal, URIRef
from rdflib.namespace import OWL

from fentanyl_kg.namespaces import BASE, ID, ONTOLOGY_GRAPH, PROVENANCE_GRAPH

# Conclusions that hold for every resource and tell a reader nothing.
TRIVIAL_TYPES = {OWL.Thing, RDFS.Resource, OWL.NamedIndividual, RDFS.Class, OWL.Class}
TRIVIAL_PREDICATES = {OWL.sameAs, OWL.differentFrom}


@dataclass
class Inference:
    graph: Graph
    inconsistencies: list[str]


def _interesting(s: object, p: object, o: object) -> bool:
    if not isinstance(s, URIRef) or not str(s).startswith(str(ID)):
        return False
    if not isinstance(o, URIRef | Literal) or p in TRIVIAL_PREDICATES:
        return False
    return not (p == RDF.type and o in TRIVIAL_TYPES)


def asserted(ds: Dataset) -> Graph:
    """The union of the claim graphs (what sources say), without provenance or ontology."""
    g = Graph()
    for ctx in ds.graphs():
        if ctx.identifier in (ONTOLOGY_GRAPH, PROVENANCE_GRAPH) or not isinstance(
                ctx.identifier, URIRef) or not str(ctx.identifier).startswith(BASE):
            continue
        for t in ctx:
            g.add(t)
    return g


def expand(g: Graph) -> None:
    """Add the OWL 2 RL closure to g in place (owlrl), as the build does."""
    # improved_datatypes=False: owlrl's own lexical converters would replace rdflib's
    # process-wide and outlive the closure, changing how later code (pyshacl) sees literals.
    closure = owlrl.DeductiveClosure(owlrl.OWLRL_Semantics, axiomatic_triples=False,
                                     datatype_axioms=False, improved_datatypes=False)
    closure.expand(g)


def infer(ds: Dataset, ontology: Graph) -> Inference:
    """Run the OWL 2 RL closure over ontology + claims; return only what is new."""
    facts = asserted(ds)
    work = Graph()
    for t in ontology:
        work.add(t)
    for t in facts:
        work.add(t)
    before = set(work)
    expand(work)
    out = Graph()
    problems: list[str] = []
    for s, p, o in work:
        if (s, p, o) in before:
            continue
        if p == RDF.type and o == OWL.Nothing:
            problems.append(f"{s} belongs to two disjoint classes or breaks another axiom")
            continue
        if _interesting(s, p, o):
            out.add((s, p, o))
    problems += _owlrl_errors(work)
    return Inference(graph=out, inconsistencies=sorted(set(problems)))


def _owlrl_errors(g: Graph) -> list[str]:
    """owlrl reports inconsistencies as triples in its error namespace; collect their text."""
    errns = "http://www.daml.org/2002/03/agents/agent-ont#"
    return sorted(str(o) for s, p, o in g
                  if str(p).startswith(errns) and isinstance(o, Literal))
