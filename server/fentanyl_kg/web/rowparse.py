"""Reading a SELECT query for row citations: rdflib's parser gives the algebra, and its triple
patterns become Patterns that rowcite.py matches against the store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox
from pyparsing import ParseBaseException
from rdflib import BNode, URIRef, Variable
from rdflib.paths import AlternativePath, InvPath, MulPath, Path, SequencePath
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.term import Node

from fentanyl_kg import store as release_store
from fentanyl_kg.namespaces import PREFIXES
from fentanyl_kg.web.terms import Term

PTerm = Term | ox.Variable


@dataclass(frozen=True)
class Pattern:
    s: PTerm
    p: PTerm
    o: PTerm
    path: str = ""  # "" for a plain triple, "+" or "*" for a one-IRI path
    alternatives: tuple[ox.NamedNode, ...] = ()  # for p1|p2|...: p is unused


def parse(query_text: str, notes: list[str]) -> CompValue | None:
    """The query's algebra, or None (with a note) if rdflib cannot read the query."""
    try:
        parsed = parseQuery(query_text)
    except ParseBaseException as exc:
        notes.append(f"citations unavailable: the query could not be analysed ({exc})")
        return None
    declared = set(PREFIXES) | {d.prefix or "" for d in _find(parsed, "PrefixDecl")}
    unknown = {p.prefix or "" for p in _find(parsed, "pname")} - declared
    if unknown:
        notes.append(f"citations unavailable: unknown prefix {', '.join(sorted(unknown))}")
        return None
    return translateQuery(parsed, initNs=PREFIXES).algebra  # type: ignore[no-any-return]


def _find(node: Any, name: str) -> Iterator[CompValue]:
    if isinstance(node, CompValue):
        if node.name == name:
            yield node
        for value in node.values():
            yield from _find(value, name)
    elif isinstance(node, list | tuple) or type(node).__name__ == "ParseResults":
        for value in node:
            yield from _find(value, name)


def to_patterns(t: tuple[Node, Any, Node], notes: list[str]) -> list[Pattern] | None:
    """A triple pattern as Patterns: a sequence path p1/p2 becomes a chain through fresh
    variables, p1|p2 one pattern with alternatives. None for paths that are not followed."""
    s, p, o = t
    if isinstance(p, InvPath) and isinstance(p.arg, URIRef):
        s, p, o = o, p.arg, s
    if isinstance(p, MulPath) and isinstance(p.path, URIRef) and p.mod in "+*?":
        return [Pattern(to_ox(s), to_ox(p.path), to_ox(o), "+" if p.mod == "?" else p.mod)]
    if isinstance(p, AlternativePath) and all(isinstance(a, URIRef) for a in p.args):
        return [Pattern(to_ox(s), ox.Variable("_alt"), to_ox(o),
                        alternatives=tuple(ox.NamedNode(str(a)) for a in p.args))]
    if isinstance(p, SequencePath) and all(isinstance(a, URIRef) for a in p.args):
        ends = [to_ox(s), *(ox.Variable(f"_seq{id(p)}_{i}") for i in range(len(p.args) - 1)),
                to_ox(o)]
        return [Pattern(ends[i], ox.NamedNode(str(a)), ends[i + 1])
                for i, a in enumerate(p.args)]
    if isinstance(p, Path):
        note = f"the property path {p.n3()} is not followed for citations"
        if note not in notes:
            notes.append(note)
        return None
    return [Pattern(to_ox(s), to_ox(p), to_ox(o))]


def to_ox(term: Node) -> PTerm:
    # A blank node in a query pattern acts as a variable.
    if isinstance(term, Variable):
        return ox.Variable(str(term))
    if isinstance(term, BNode):
        return ox.Variable("_bnode_" + str(term))
    return release_store.to_ox(term)
