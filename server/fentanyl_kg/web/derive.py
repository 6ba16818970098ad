"""Why does an inferred triple hold? Find the asserted triples it was derived from.

The reasoner (owlrl) does not record its proofs, so we reconstruct one with SPARQL over the
claim graphs and the ontology graph, rule by rule, using only the axioms the ontology states:

  subproperty  s q o  and  q rdfs:subPropertyOf+ p (or owl:equivalentProperty)
  inverse      o q s  and  p owl:inverseOf q (either way round)
  symmetric    o p s  and  p a owl:SymmetricProperty
  transitive   every edge ?a p ?b on a p-path from s to o (`s p* ?a . ?a p ?b . ?b p* o`)
  chain        s p1 ?x1 . ?x1 p2 ... pn o  for p owl:propertyChainAxiom (p1 ... pn)
  subclass     s a D  and  D rdfs:subClassOf+ o (or owl:equivalentClass), for p = rdf:type
  domain       s q ?x and q rdfs:domain D, D subClassOf* o, for p = rdf:type
  range        ?x q s and q rdfs:range D, D subClassOf* o, for p = rdf:type

First every rule is tried with premises from the claim graphs only; the first rule (in the
order above) that finds any gives the answer, with all its alternatives. If none does, the
rules are tried again over claims plus inferred triples, and each inferred premise is explained
the same way, recursively (at most MAX_DEPTH levels, never revisiting a triple on the path).
A triple that no rule explains (for example one owlrl derived through owl:sameAs) gets none.

Premises are matched with `GRAPH ?g { ... }` and a filter on ?g rather than with a list of
claim graphs as the default graph: pyoxigraph 0.5 answers the latter about 100 times slower
with a thousand claim graphs. Transitive paths are followed breadth-first over the store's
quad index, which gives the same edges as `?s p* ?a . ?a p ?b . ?b p* ?o` and is as fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pyoxigraph as ox

from fentanyl_kg.web.terms import (
    INFERRED,
    ONTOLOGY,
    PROVENANCE,
    RDF_TYPE,
    Bindings,
    Labeller,
    Term,
    compact,
    is_claim_graph,
    quads,
)

Triple = tuple[Term, ox.NamedNode, Term]
MAX_DEPTH = 8
OWL = "http://www.w3.org/2002/07/owl#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
RDF_FIRST = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#first")
RDF_REST = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#rest")
RDF_NIL = "http://www.w3.org/1999/02/22-rdf-syntax-ns#nil"
SUBCLASS = f"(<{RDFS}subClassOf>|<{OWL}equivalentClass>|^<{OWL}equivalentClass>)"
SUBPROP = f"(<{RDFS}subPropertyOf>|<{OWL}equivalentProperty>|^<{OWL}equivalentProperty>)"
ONTO = ONTOLOGY.value
MAX_NODES = 10000  # a path search visits at most this many nodes


@dataclass
class Premise:
    triple: Triple
    claims: list[str] = field(default_factory=list)  # claim graphs that assert it
    derivation: Derivation | None = None             # how it was inferred, if not asserted


@dataclass
class Derivation:
    rule: str
    because: str                                     # the axiom, in words
    premises: list[Premise]

    def claims(self) -> list[str]:
        """Every asserted claim this derivation rests on, in order, without repeats."""
        out: dict[str, None] = {}
        for p in self.premises:
            out.update(dict.fromkeys(p.claims))
            if p.derivation:
                out.update(dict.fromkeys(p.derivation.claims()))
        return list(out)


def allowed(with_inferred: bool) -> Callable[[object], bool]:
    """Which graphs premises may come from: claim graphs, and the inferred graph if asked."""
    return lambda g: is_claim_graph(g) or (with_inferred and g == INFERRED)


def graph_filter(var: str, with_inferred: bool) -> str:
    """The SPARQL filter that keeps ?var to the same graphs as allowed()."""
    banned = [PROVENANCE, ONTOLOGY] + ([] if with_inferred else [INFERRED])
    return f"FILTER(?{var} NOT IN ({', '.join(str(g) for g in banned)}))"


def reach(store: ox.Store, start: Term, p: ox.NamedNode, forward: bool,
          ok: Callable[[object], bool]) -> set[Term]:
    """Nodes reachable from start by one or more p-edges (backwards if not forward)."""
    seen: set[Term] = set()
    todo = [start]
    while todo and len(seen) < MAX_NODES:
        node = todo.pop()
        found = quads(store, node, p) if forward else quads(store, o=node, p=p)
        for q in found:
            nxt = q.o if forward else q.s
            if ok(q.g) and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def path_edges(store: ox.Store, s: Term, p: ox.NamedNode, o: Term,
               ok: Callable[[object], bool]) -> list[Triple]:
    """Every p-edge on a p-path from s to o, through the allowed graphs."""
    after_s = reach(store, s, p, True, ok) | {s}
    before_o = reach(store, o, p, False, ok) | {o}
    edges = {(q.s, q.o) for a in after_s
             for q in quads(store, a, p)
             if ok(q.g) and q.o in before_o}
    return [(a, p, b) for a, b in sorted(edges, key=lambda e: (e[0].value, e[1].value))]


class Deriver:
    """Explains inferred triples of one store; memoised, so use one per request."""

    def __init__(self, store: ox.Store, labeller: Labeller | None = None) -> None:
        self.store = store
        self.labels = labeller or Labeller(store)
        self.memo: dict[Triple, list[Derivation]] = {}

    # -- what the store says about a triple ---------------------------------------------
    def asserting_claims(self, t: Triple) -> list[str]:
        return sorted({q.g.value for q in quads(self.store, *t, None)
                       if is_claim_graph(q.g)})

    def is_inferred(self, t: Triple) -> bool:
        return any(True for _ in quads(self.store, *t, INFERRED))

    # -- explanation ---------------------------------------------------------------------
    def explain(self, t: Triple) -> list[Derivation]:
        """Alternative derivations of an inferred triple (empty if none was found)."""
        if t not in self.memo:
            self.memo[t] = self._explain(t, 0, frozenset())
        return self.memo[t]

    def _explain(self, t: Triple, depth: int, path: frozenset[Triple]) -> list[Derivation]:
        for rule in RULES:
            found = [d for d in rule(self, t, False) if all(p.claims for p in d.premises)]
            if found:
                return found
        if depth >= MAX_DEPTH:
            return []
        for rule in RULES:
            good = [d for d in rule(self, t, True) if self._resolve(d, depth, path | {t})]
            if good:
                return good
        return []

    def _resolve(self, d: Derivation, depth: int, path: frozenset[Triple]) -> bool:
        for p in d.premises:
            if p.claims:
                continue
            if p.triple in path or not self.is_inferred(p.triple):
                return False
            subs = self._explain(p.triple, depth + 1, path)
            if not subs:
                return False
            p.derivation = subs[0]
        return True

    # -- helpers for the rules ------------------------------------------------------------
    def select(self, query: str, **bind: Term) -> list[dict[str, Term]]:
        subs: Bindings = {ox.Variable(k): v for k, v in bind.items()}
        rows = self.store.query(query, substitutions=subs)
        return [{v.value: row[v] for v in rows.variables if row[v] is not None}  # type: ignore
                for row in rows]  # type: ignore[union-attr]

    def premise(self, t: Triple) -> Premise:
        return Premise(t, self.asserting_claims(t))

    def name(self, term: Term) -> str:
        return f"“{self.labels.label(term) or compact(term.value)}”"

    def chain(self, p: ox.NamedNode) -> list[list[ox.NamedNode]]:
        out = []
        for q in quads(self.store, p, ox.NamedNode(OWL + "propertyChainAxiom"),
                                              None, ONTOLOGY):
            items: list[ox.NamedNode] = []
            node: Term = q.o
            while isinstance(node, ox.BlankNode | ox.NamedNode) and node.value != RDF_NIL:
                first = [x.o for x in quads(self.store, node, RDF_FIRST, None,
                                                                         ONTOLOGY)]
                rest = [x.o for x in quads(self.store, node, RDF_REST, None,
                                                                        ONTOLOGY)]
                if not first or not rest or not isinstance(first[0], ox.NamedNode):
                    break
                items.append(first[0])
                node = rest[0]
            if len(items) >= 2:
                out.append(items)
        return out

    def has_type(self, p: ox.NamedNode, cls: str) -> bool:
        return any(True for _ in quads(self.store, p, RDF_TYPE, ox.NamedNode(cls),
                                                              ONTOLOGY))


def _subproperty(d: Deriver, t: Triple, inf: bool) -> list[Derivation]:
    s, p, o = t
    if p == RDF_TYPE:
        return []
    q = (f"SELECT DISTINCT ?s ?o ?q WHERE {{ GRAPH <{ONTO}> {{ ?q {SUBPROP}+ {p} }} "
         f"GRAPH ?g {{ ?s ?q ?o }} {graph_filter('g', inf)} FILTER(?q != {p}) }}")
    return [Derivation("subproperty", f"{d.name(r['q'])} is a sub-property of {d.name(p)}",
                       [d.premise((s, r["q"], o))])  # type: ignore[arg-type]
            for r in d.select(q, s=s, o=o)]


def _inverse(d: Deriver, t: Triple, inf: bool) -> list[Derivation]:
    s, p, o = t
    if isinstance(o, ox.Literal) or p == RDF_TYPE:
        return []
    q = (f"SELECT DISTINCT ?s ?o ?q WHERE {{ GRAPH <{ONTO}> {{ {{ {p} <{OWL}inverseOf> ?q }} "
         f"UNION {{ ?q <{OWL}inverseOf> {p} }} }} GRAPH ?g {{ ?o ?q ?s }} "
         f"{graph_filter('g', inf)} }}")
    return [Derivation("inverse", f"{d.name(r['q'])} is the inverse of {d.name(p)}",
                       [d.premise((o, r["q"], s))])  # type: ignore[arg-type]
            for r in d.select(q, s=s, o=o)]


def _symmetric(d: Deriver, t: Triple, inf: bool) -> list[Derivation]:
    s, p, o = t
    if isinstance(o, ox.Literal) or not d.has_type(p, OWL + "SymmetricProperty"):
        return []
    if not any(allowed(inf)(q.g) for q in quads(d.store, o, p, s, None)):
        return []
    return [Derivation("symmetric", f"{d.name(p)} is symmetric", [d.premise((o, p, s))])]  # type: ignore[arg-type]


def _transitive(d: Deriver, t: Triple, inf: bool) -> list[Derivation]:
    s, p, o = t
    if not d.has_type(p, OWL + "TransitiveProperty"):
        return []
    edges = [e for e in path_edges(d.store, s, p, o, allowed(inf)) if e != t]
    if not edges:
        return []
    return [Derivation("transitive", f"{d.name(p)} is transitive",
                       [d.premise(e) for e in edges])]


def _chain(d: Deriver, t: Triple, inf: bool) -> list[Derivation]:
    s, p, o = t
    out = []
    for links in d.chain(p):
        names = ["?s", *[f"?x{i}" for i in range(1, len(links))], "?o"]
        body = " ".join(f"GRAPH ?g{i} {{ {names[i]} {link} {names[i + 1]} }} "
                        f"{graph_filter(f'g{i}', inf)}" for i, link in enumerate(links))
        for r in d.select(f"SELECT DISTINCT {' '.join(names)} WHERE {{ {body} }}", s=s, o=o):
            nodes = [s, *[r[n[1:]] for n in names[1:-1]], o]
            premises = [d.premise((nodes[i], link, nodes[i + 1]))  # type: ignore[arg-type]
                        for i, link in enumerate(links)]
            words = " then ".join(d.name(x) for x in links)
            out.append(Derivation("chain", f"{d.name(p)} is the chain {words}", premises))
    return out


def _subclass(d: Deriver, t: Triple, inf: bool) -> list[Derivation]:
    s, p, o = t
    if p != RDF_TYPE:
        return []
    q = (f"SELECT DISTINCT ?s ?o ?c WHERE {{ GRAPH ?g {{ ?s a ?c }} {graph_filter('g', inf)} "
         f"GRAPH <{ONTO}> {{ ?c {SUBCLASS}+ ?o }} FILTER(?c != ?o) }}")
    return [Derivation("subclass", f"{d.name(r['c'])} is a subclass of {d.name(o)}",
                       [d.premise((s, RDF_TYPE, r["c"]))])
            for r in d.select(q, s=s, o=o)]


def _domain_range(d: Deriver, t: Triple, inf: bool, rng: bool) -> list[Derivation]:
    s, p, o = t
    if p != RDF_TYPE:
        return []
    axiom, pattern = ("range", "?x ?q ?s") if rng else ("domain", "?s ?q ?x")
    q = (f"SELECT DISTINCT ?s ?o ?q ?x WHERE {{ GRAPH ?g {{ {pattern} }} {graph_filter('g', inf)} "
         f"GRAPH <{ONTO}> {{ ?q <{RDFS}{axiom}> ?c . ?c {SUBCLASS}* ?o }} }}")
    out = []
    for r in d.select(q, s=s, o=o):
        premise = (r["x"], r["q"], s) if rng else (s, r["q"], r["x"])
        out.append(Derivation(axiom, f"the {axiom} of {d.name(r['q'])} is a {d.name(o)}",
                              [d.premise(premise)]))  # type: ignore[arg-type]
    return out


def _domain(d: Deriver, t: Triple, inf: bool) -> list[Derivation]:
    return _domain_range(d, t, inf, rng=False)


def _range(d: Deriver, t: Triple, inf: bool) -> list[Derivation]:
    return _domain_range(d, t, inf, rng=True)


RULES = (_subproperty, _inverse, _symmetric, _transitive, _chain, _subclass, _domain, _range)
