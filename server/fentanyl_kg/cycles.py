"""Cycles through transitive properties, reported as data errors before reasoning.

If `a precursorOf b`, `b precursorOf c` and `c precursorOf a` are asserted, the OWL 2 RL closure
concludes `a precursorOf a`, a self-loop the shapes forbid when it is asserted. The fix is in
the data, so the build names the records that close the loop instead of publishing it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from rdflib import RDF, Dataset, Graph, URIRef
from rdflib.namespace import OWL, RDFS
from rdflib.term import Node

from fentanyl_kg.errors import StatementError
from fentanyl_kg.namespaces import FKG, PROVENANCE_GRAPH
from fentanyl_kg.statements import Location

Edges = dict[Node, set[Node]]


def _subproperties(ontology: Graph, prop: URIRef) -> set[URIRef]:
    found = {prop}
    for sub in ontology.transitive_subjects(RDFS.subPropertyOf, prop):
        if isinstance(sub, URIRef):
            found.add(sub)
    return found


def _inverses(ontology: Graph, prop: URIRef) -> set[URIRef]:
    found = set(ontology.objects(prop, OWL.inverseOf)) | set(
        ontology.subjects(OWL.inverseOf, prop))
    return {q for q in found if isinstance(q, URIRef)}


def _targets(edges: Edges, node: Node) -> Iterator[Node]:
    return iter(sorted(edges.get(node, ()), key=str))


def components(edges: Edges) -> list[list[Node]]:
    """The strongly connected components with a cycle (Tarjan's algorithm, iteratively,
    so a chain of thousands of links needs no deep recursion)."""
    index: dict[Node, int] = {}
    low: dict[Node, int] = {}
    on_stack: set[Node] = set()
    stack: list[Node] = []
    found: list[list[Node]] = []
    for root in sorted(edges, key=str):
        if root in index:
            continue
        work: list[tuple[Node, Iterator[Node]]] = [(root, _targets(edges, root))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, _targets(edges, child)))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                members: list[Node] = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    members.append(top)
                    if top == node:
                        break
                if len(members) > 1 or node in edges.get(node, set()):
                    found.append(sorted(members, key=str))
    return found


def _loop(edges: Edges, members: list[Node]) -> list[Node]:
    """One shortest cycle through the first member, staying inside the component."""
    start, inside = members[0], set(members)
    came: dict[Node, Node] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(edges.get(node, ()), key=str):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(came[path[-1]])
                return [*reversed(path), start]
            if nxt in inside and nxt not in came:
                came[nxt] = node
                queue.append(nxt)
    return [start, start]


def find(ds: Dataset, ontology: Graph, locations: dict[URIRef, Location]) -> list[StatementError]:
    """One error per cycle through a transitive property (or its inverse and subproperties),
    at the first record asserting a link of it and naming the records of every link."""
    prov = ds.graph(PROVENANCE_GRAPH)
    errors: list[StatementError] = []
    done: set[URIRef] = set()
    for prop in sorted(p for p in ontology.subjects(RDF.type, OWL.TransitiveProperty)
                       if isinstance(p, URIRef)):
        if prop in done:
            continue
        inverses = _inverses(ontology, prop)
        done |= {prop} | inverses
        edges: Edges = {}
        claims: dict[tuple[Node, Node], set[URIRef]] = {}
        for forward, props in ((True, _subproperties(ontology, prop)),
                               (False, {s for q in inverses for s in _subproperties(ontology, q)})):
            for p in props:
                for s, _, o, graph in ds.quads((None, p, None, None)):
                    edge = (s, o) if forward else (o, s)
                    edges.setdefault(edge[0], set()).add(edge[1])
                    if isinstance(graph, URIRef):
                        claims.setdefault(edge, set()).add(graph)
        for members in components(edges):
            loop = _loop(edges, members)
            links = list(zip(loop, loop[1:], strict=False))
            where = sorted({(locations[c], str(prov.value(c, FKG.recordId)))
                            for link in links for c in claims[link] if c in locations},
                           key=lambda x: (str(x[0].path), x[0].line))
            names = " -> ".join(_slug(n) for n in loop)
            records = "; ".join(f"'{rid}' at {at.path}:{at.line}" for at, rid in where)
            term = f"fkg:{prop.rsplit('#', 1)[-1]}"
            message = (f"cycle through the transitive property {term}: {names}, so reasoning "
                       f"would conclude that each is {term} itself; the links are stated by "
                       f"the records {records}")
            at = where[0][0] if where else None
            errors.append(StatementError(at.path if at else "graph_data", at.line if at else None,
                                         message))
    return errors


def _slug(node: Node) -> str:
    return str(node).rsplit("/", 1)[-1]
