"""OWL 2 RL closure with owlrl, keeping only new, non-trivial conclusions about our entities."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import owlrl
from rdflib import RDF, RDFS, Dataset, Graph, Literal, URIRef
from rdflib.namespace import OWL

from fentanyl_kg.errors import ReasoningBudgetExceeded
from fentanyl_kg.namespaces import BASE, ID, ONTOLOGY_GRAPH, PREFIXES, PROVENANCE_GRAPH

# Conclusions that hold for every resource and tell a reader nothing.
TRIVIAL_TYPES = {OWL.Thing, RDFS.Resource, OWL.NamedIndividual, RDFS.Class, OWL.Class}
TRIVIAL_PREDICATES = {OWL.sameAs, OWL.differentFrom}


@dataclass(frozen=True)
class Budget:
    """How far the closure may run (documented in graph_data/README.md). The real data adds
    ~13,500 triples in under 10 s; a 600-link transitive chain would add over 700,000."""

    seconds: float = 180.0
    triples: int = 150_000


BUDGET = Budget()


class _Stop(Exception):
    """Raised inside owlrl's loop when the budget is spent; caught in infer()."""

    def __init__(self, why: str, pending: set[Any]) -> None:
        super().__init__(why)
        self.why, self.pending = why, pending  # pending: the unfinished cycle's conclusions


class _BudgetedClosure(owlrl.OWLRL_Semantics):  # type: ignore[misc]
    """owlrl's OWL 2 RL closure, stopped once it adds more triples or takes longer than allowed."""

    budget = BUDGET
    flushed = 0  # triples added by finished cycles (owlrl's __init__ already empties the set)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = time.monotonic() + self.budget.seconds

    def empty_stored_triples(self) -> None:
        # Called at the start of every cycle, after the last cycle's triples were added.
        self.flushed += len(getattr(self, "added_triples", ()))
        super().empty_stored_triples()

    def store_triple(self, t: Any) -> None:
        super().store_triple(t)
        if self.flushed + len(self.added_triples) > self.budget.triples:
            raise _Stop(f"more than {self.budget.triples:,} new triples", self.added_triples)

    def rules(self, t: Any, cycle_num: int) -> None:
        if time.monotonic() > self.deadline:
            raise _Stop(f"more than {self.budget.seconds:g} s", self.added_triples)
        super().rules(t, cycle_num)


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


def expand(g: Graph, budget: Budget | None = None) -> None:
    """Add the OWL 2 RL closure to g in place (owlrl), as the build does, within a budget."""
    closure_class = type("Closure", (_BudgetedClosure,), {"budget": budget or BUDGET})
    # improved_datatypes=False: owlrl's own lexical converters would replace rdflib's
    # process-wide and outlive the closure, changing how later code (pyshacl) sees literals.
    closure = owlrl.DeductiveClosure(closure_class, axiomatic_triples=False,
                                     datatype_axioms=False, improved_datatypes=False)
    closure.expand(g)


def _short(iri: object) -> str:
    for prefix, ns in PREFIXES.items():
        if str(iri).startswith(ns):
            return f"{prefix}:{str(iri)[len(ns):]}"
    return str(iri)


def _cut(work: Graph, before: set[Any], stop: _Stop) -> ReasoningBudgetExceeded:
    """Say what the closure was doing when it was stopped: its most frequent conclusions
    about our entities, where a curator can look for the cause."""
    new = [t for t in work if t not in before] + list(stop.pending)
    told = [t for t in new if _interesting(*t)] or new
    top = Counter(_short(p) for _, p, _ in told).most_common(3)
    subjects = Counter(_short(s) for s, _, _ in told if isinstance(s, URIRef)).most_common(3)
    return ReasoningBudgetExceeded(
        f"OWL 2 RL reasoning stopped after {stop.why} (the reasoning budget); nothing was "
        f"published and the {len(new):,} conclusions so far are cut. Most were "
        + ", ".join(f"{p} ({n:,})" for p, n in top) + ", most about "
        + ", ".join(f"{s} ({n:,})" for s, n in subjects)
        + ". A long chain of a transitive property usually causes this; check those records.")


def infer(ds: Dataset, ontology: Graph, budget: Budget | None = None) -> Inference:
    """Run the OWL 2 RL closure over ontology + claims; return only what is new.

    Raises ReasoningBudgetExceeded when the closure outgrows its budget."""
    facts = asserted(ds)
    work = Graph()
    for t in ontology:
        work.add(t)
    for t in facts:
        work.add(t)
    before = set(work)
    try:
        expand(work, budget)
    except _Stop as stop:
        raise _cut(work, before, stop) from None
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
