"""Citations for SELECT result rows: which triples did each row match, and who says so.

Method. The query is parsed with rdflib's SPARQL parser and translated to algebra. For each
result row, the graph patterns of that algebra are matched again against the store, starting
from the row's values, by a small evaluator that follows joins, OPTIONAL (left joins), UNION,
GRAPH, MINUS (its left side) and sub-queries (with their own variable scope). Variables the
query did not project, or aggregated away, are found again this way, so a row of
`SELECT ?label WHERE { ?s fkg:locatedIn id:mexico ; rdfs:label ?label }` still cites the claim
that puts ?s in Mexico, and a row of a GROUP BY query cites the triples of its whole group.
Every triple a solution matched is cited: a claim-graph triple by its claims (only the matched
graph's claim under `GRAPH ?g`), an inferred triple by the asserted claims it derives from
(derive.py); triples of the provenance and ontology graphs are not claims. `p+`, `p*` and `p?`
paths over one IRI are cited by the edges of the paths between their two ends; `p1/p2` and
`p1|p2` are matched as a chain and as alternatives. A row whose value is a claim IRI (a query
over the provenance graph, say) also cites that claim, with an empty `supports`.

Limits (a row whose citations may be incomplete is listed in `incomplete`, never hidden):
FILTER and BIND expressions are not evaluated, so a row may cite a triple that a filter then
discarded (the citation is still true, only not needed); property paths other than p+, p*,
p?, ^p, p1/p2 and p1|p2 over IRIs (negated sets, nested paths) and SERVICE are not followed;
a row stops after MAX_READS quad reads or MAX_SOLUTIONS solutions, and the whole answer after
MAX_TOTAL_READS reads or MAX_SECONDS seconds (the rows left are flagged, not cited), so a
large result cannot keep the web process busy for long.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import pyoxigraph as ox
from rdflib.plugins.sparql.parserutils import CompValue

from fentanyl_kg.web.cite import Citer, TripleSupport
from fentanyl_kg.web.derive import allowed, path_edges, reach
from fentanyl_kg.web.rowparse import Pattern, PTerm, parse, to_ox, to_patterns
from fentanyl_kg.web.terms import Fact, Term, from_json, graph_kind, is_claim_graph, quads

MAX_READS = 5000  # quad reads per row (and per distinct sub-query)
MAX_SOLUTIONS = 200  # solutions per row
MAX_TOTAL_READS = 200_000  # for all the rows of one answer
MAX_SECONDS = 5.0  # for all the rows of one answer; later rows are flagged, not cited
Triple3 = tuple[Term, ox.NamedNode, Term]
Found = tuple[Triple3, ox.NamedNode | None]  # a matched triple, and its graph under GRAPH
Solution = tuple[dict[str, Term], list[Found]]
# Operators whose only pattern is `p` and that change nothing the citations depend on.
PASS_THROUGH = {"SelectQuery", "Filter", "Extend", "Distinct", "Reduced", "Slice", "OrderBy",
                "ToMultiSet", "Group", "AggregateJoin", "SubSelect"}


@dataclass
class RowCitations:
    rows: list[list[dict[str, Any]]]
    incomplete: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _Budget(Exception):
    """Raised inside the matcher when a row needs more work than allowed."""


@dataclass
class _Shared:
    """What the rows of one answer share: the work spent so far, against the limits for the
    whole answer, and caches of converted patterns and of sub-query answers."""

    deadline: float
    reads: int = 0
    patterns: dict[int, tuple[list[Pattern], bool]] = field(default_factory=dict)
    subqueries: dict[Any, tuple[list[Solution], bool]] = field(default_factory=dict)

    def exhausted(self) -> bool:
        return self.reads > MAX_TOTAL_READS or time.monotonic() > self.deadline


def cite_rows(store: ox.Store, query_text: str,
              rows: Sequence[Mapping[str, Any]]) -> RowCitations:
    """Citations for each row; see the module docstring for the method and its limits."""
    notes: list[str] = []
    algebra = parse(query_text, notes)
    if algebra is None:
        return RowCitations([[] for _ in rows], list(range(len(rows))), notes)
    citer = Citer(store)
    out = RowCitations([], [], notes)
    memo: dict[tuple[tuple[str, str], ...], tuple[list[Found], bool]] = {}
    shared = _Shared(time.monotonic() + MAX_SECONDS)
    for i, row in enumerate(rows):
        binding = {k: t for k, v in row.items() if (t := from_json(v)) is not None}
        key = tuple(sorted((k, str(v)) for k, v in binding.items()))
        if key not in memo:
            memo[key] = ([], False) if shared.exhausted() else \
                _Evaluator(store, citer, notes, shared).cite(algebra, binding)
        found, complete = memo[key]
        supports = [s for s in (_support(citer, f) for f in found) if s is not None]
        named_claims = [v.value for v in binding.values() if is_claim_graph(v)
                        and citer.claim(v.value)]
        out.rows.append(citer.cite(supports) + citer.claims_named(named_claims, supports))
        if not complete or notes:
            out.incomplete.append(i)
    return out


def _support(citer: Citer, found: Found) -> TripleSupport | None:
    triple, graph = found
    ts = citer.support(triple)
    if ts is None or graph is None or graph_kind(graph) == "inferred":
        return ts
    if is_claim_graph(graph) and graph.value in ts.claims:
        return TripleSupport(ts.triple, [graph.value], False)
    return None  # matched in the provenance or ontology graph: not a claim


# -- evaluation ------------------------------------------------------------------------------
class _Evaluator:
    """Matches the algebra again for one row, counting the quads it reads."""

    def __init__(self, store: ox.Store, citer: Citer, notes: list[str],
                 shared: _Shared) -> None:
        self.store, self.citer, self.notes, self.shared = store, citer, notes, shared
        self.reads = 0
        self.partial = False  # something had to be skipped

    def cite(self, algebra: CompValue, binding: dict[str, Term]) -> tuple[list[Found], bool]:
        """The triples matched by the row's solutions, and whether the search was complete."""
        found: dict[Found, None] = {}
        root = algebra
        while root.name in ("SelectQuery", "Distinct", "Reduced", "Slice", "OrderBy", "Project"):
            root = root.p  # the row is the top-level scope: no need to re-project it
        try:
            solutions = list(islice(self.eval(root, binding, None, []), MAX_SOLUTIONS + 1))
        except _Budget:
            return [], False
        for _, matched in solutions[:MAX_SOLUTIONS]:
            found.update(dict.fromkeys(matched))
        return list(found), len(solutions) <= MAX_SOLUTIONS and not self.partial

    def eval(self, node: Any, b: dict[str, Term], g: PTerm | None,
             matched: list[Found]) -> Iterator[Solution]:
        name = node.name if isinstance(node, CompValue) else None
        if name == "BGP":
            if id(node) not in self.shared.patterns:
                converted = [to_patterns(t, self.notes) for t in node.triples]
                self.shared.patterns[id(node)] = (
                    [p for ps in converted if ps for p in ps], None in converted)
            patterns, skipped = self.shared.patterns[id(node)]
            self.partial = self.partial or skipped
            yield from self.solve(patterns, b, g, matched)
        elif name == "Join":
            for b1, m1 in self.eval(node.p1, b, g, matched):
                yield from self.eval(node.p2, b1, g, m1)
        elif name == "LeftJoin":
            for b1, m1 in self.eval(node.p1, b, g, matched):
                empty = True
                for sol in self.eval(node.p2, b1, g, m1):
                    empty = False
                    yield sol
                if empty:
                    yield b1, m1
        elif name == "Union":
            yield from self.eval(node.p1, b, g, matched)
            yield from self.eval(node.p2, b, g, matched)
        elif name == "Minus":
            yield from self.eval(node.p1, b, g, matched)
        elif name == "Graph":
            yield from self.eval(node.p, b, to_ox(node.term), matched)
        elif name == "Project":
            yield from self.project(node, b, g, matched)
        elif name in PASS_THROUGH:
            yield from self.eval(node.p, b, g, matched)
        elif name == "values":
            yield b, matched
        else:  # SERVICE, or an operator this evaluator does not know
            self.partial = True
            yield b, matched

    def project(self, node: CompValue, b: dict[str, Term], g: PTerm | None,
                matched: list[Found]) -> Iterator[Solution]:
        """A (sub-)query sees only the outer values of the variables it projects."""
        names = {str(v) for v in node.PV}
        inner = {k: v for k, v in b.items() if k in names}
        key = (id(node), tuple(sorted((k, str(v)) for k, v in inner.items())), str(g))
        cache = self.shared.subqueries
        if key not in cache:  # a sub-query often answers the same for many rows
            saved, self.reads = self.reads, 0  # with a budget of its own, spent once
            try:
                sols = list(islice(self.eval(node.p, inner, g, []), MAX_SOLUTIONS + 1))
                cache[key] = (sols[:MAX_SOLUTIONS], len(sols) > MAX_SOLUTIONS)
            except _Budget:
                cache[key] = ([], True)  # too costly: not cited, and flagged
            finally:
                self.reads = saved
        sols, cut = cache[key]
        self.partial = self.partial or cut
        for ib, im in sols:
            out = dict(b)
            if all(out.setdefault(k, v) == v for k, v in ib.items() if k in names):
                yield out, [*matched, *im]

    def solve(self, todo: list[Pattern], b: dict[str, Term], g: PTerm | None,
              matched: list[Found]) -> Iterator[Solution]:
        """Nested-loop join of the patterns, the most bound one first."""
        if not todo:
            yield b, matched
            return

        def known(pt: Pattern) -> int:
            n = sum(not isinstance(_value(x, b), ox.Variable) for x in (pt.s, pt.p, pt.o))
            n += 1 if pt.alternatives else 0  # its predicates are known IRIs
            return n - (3 if pt.path and n < 3 else 0)

        pt, *rest = sorted(todo, key=known, reverse=True)
        s, p, o = (_value(x, b) for x in (pt.s, pt.p, pt.o))
        graph = None if g is None else _value(g, b)
        if pt.path:
            yield from self.solve_path(pt, rest, b, g, matched)
            return
        if pt.alternatives:
            for alt in pt.alternatives:
                yield from self.solve([Pattern(pt.s, alt, pt.o), *rest], b, g, matched)
            return
        for q in self.match(s, p, o, graph):
            nb = dict(b)
            if _bind(nb, s, q.s) and _bind(nb, p, q.p) and _bind(nb, o, q.o) and \
                    (graph is None or _bind(nb, graph, q.g)):
                yield from self.solve(rest, nb, g, [*matched, ((q.s, q.p, q.o),
                                                               q.g if graph else None)])

    def solve_path(self, pt: Pattern, rest: list[Pattern], b: dict[str, Term],
                   g: PTerm | None, matched: list[Found]) -> Iterator[Solution]:
        s, p, o = (_value(x, b) for x in (pt.s, pt.p, pt.o))
        if not isinstance(p, ox.NamedNode) or (isinstance(s, ox.Variable) and
                                               isinstance(o, ox.Variable)):
            self.partial = True  # neither end is known: the path is not cited
            yield from self.solve(rest, b, g, matched)
        elif isinstance(s, ox.Variable) or isinstance(o, ox.Variable):
            for start, end in self.path_ends(s, p, o):
                nb = dict(b)
                if _bind(nb, s, start) and _bind(nb, o, end):
                    yield from self.solve([pt, *rest], nb, g, matched)
        elif pt.path == "*" and s == o:
            yield from self.solve(rest, b, g, matched)
        else:
            edges = self.path_edges(s, p, o)
            if edges:
                yield from self.solve(rest, b, g, matched + edges)

    def count(self) -> None:
        self.reads += 1
        self.shared.reads += 1
        if self.reads > MAX_READS or (self.shared.reads % 256 == 0 and self.shared.exhausted()):
            raise _Budget()

    def match(self, s: PTerm, p: PTerm, o: PTerm, g: PTerm | None) -> Iterator[Fact]:
        """Quads for a pattern; in the default graph (g None) claims + inferred, each once."""
        def ground(x: PTerm | None) -> Any:
            return None if isinstance(x, ox.Variable) else x
        seen: set[Triple3] = set()
        for q in quads(self.store, ground(s), ground(p), ground(o), ground(g)):
            self.count()
            if g is None:
                if graph_kind(q.g) not in ("claim", "inferred") or q.triple in seen:
                    continue
                seen.add(q.triple)
            yield q

    def path_ends(self, s: PTerm, p: ox.NamedNode, o: PTerm) -> Iterator[tuple[Term, Term]]:
        """The (start, end) pairs of `s p+ o` where one end is still a variable."""
        ok = allowed(True)
        if isinstance(s, ox.Variable):
            pairs = [(x, o) for x in reach(self.store, o, p, False, ok)]  # type: ignore[arg-type]
        else:
            pairs = [(s, x) for x in reach(self.store, s, p, True, ok)]
        for pair in sorted(pairs, key=lambda x: (x[0].value, x[1].value)):  # type: ignore
            self.count()
            yield pair  # type: ignore[misc]

    def path_edges(self, s: Term, p: ox.NamedNode, o: Term) -> list[Found]:
        """The edges of the p-paths from s to o: asserted ones if they connect, else any."""
        for ok in (allowed(False), allowed(True)):
            edges = path_edges(self.store, s, p, o, ok)
            if edges:
                return [(e, None) for e in edges]
        return []


def _value(x: PTerm, b: dict[str, Term]) -> PTerm:
    if isinstance(x, ox.Variable):
        return b.get(x.value, x)
    return x


def _bind(b: dict[str, Term], x: PTerm | None, value: Any) -> bool:
    if not isinstance(x, ox.Variable):
        return True
    if x.value in b:
        return bool(b[x.value] == value)
    b[x.value] = value
    return True
