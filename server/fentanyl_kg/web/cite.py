"""Citation-traced fact lookup: which claims, sources and locators support a triple.

An asserted triple is supported by every claim graph that holds it. An inferred triple (in the
inferred graph only) is supported by the asserted claims it was derived from; see derive.py
for how the derivation is reconstructed.

The claim dictionaries returned here are the public shape used by /cite, the pages and the
`citations` key that /sparql adds to SPARQL JSON results when asked with `citations=1`:

    {"claim": IRI, "record_id": "f011", "text": "...", "subject": IRI | null,
     "source": IRI, "source_title": "...", "source_url": URL | null,
     "source_publisher": "..." | null, "source_issued": "2025-09" | null,
     "locator": "page 3", "confidence": "high" | "medium" | "low" | null,
     "note": "..." | null, "primary_source": IRI | null, "primary_source_title": "..." | null,
     "supports": [{"s": term, "p": term, "o": term, "inferred": bool}, ...]}

where a term is a SPARQL JSON term ({"type": "uri", "value": ...}) and `supports` lists the
triples (of the pattern, or of the result row) that the claim backs; `inferred: true` means
the claim is a premise of the triple's derivation rather than a claim that states it. A result
row that names a claim by its IRI also lists that claim, with an empty `supports`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from fentanyl_kg.errors import QueryError
from fentanyl_kg.namespaces import FKG
from fentanyl_kg.web.derive import Derivation, Deriver, Triple
from fentanyl_kg.web.terms import (
    PROVENANCE,
    RDF_TYPE,
    XSD,
    Labeller,
    Term,
    graph_kind,
    is_claim_graph,
    parse_term,
    quads,
    term_key,
    to_json,
)

PROV_DERIVED = "http://www.w3.org/ns/prov#wasDerivedFrom"
DCT = "http://purl.org/dc/terms/"
SCHEMA_URL = "https://schema.org/url"
_FIELDS = {  # provenance property -> key of the claim dict
    str(FKG) + "recordId": "record_id", DCT + "description": "text", DCT + "subject": "subject",
    PROV_DERIVED: "source", str(FKG) + "locator": "locator", str(FKG) + "confidence":
    "confidence", str(FKG) + "curatorNote": "note", str(FKG) + "primarySource": "primary_source"}


@dataclass
class TripleSupport:
    """One matched triple with what supports it."""

    triple: Triple
    claims: list[str]                    # claim graphs that state it
    inferred: bool                       # it is in the inferred graph
    derivations: list[Derivation] = field(default_factory=list)

    def all_claims(self) -> list[str]:
        out = dict.fromkeys(self.claims)
        for d in self.derivations:
            out.update(dict.fromkeys(d.claims()))
        return list(out)


class Citer:
    """Answers citation questions about one store; memoised, so use one per request."""

    def __init__(self, store: ox.Store, labeller: Labeller | None = None) -> None:
        self.store = store
        self.labels = labeller or Labeller(store)
        self.deriver = Deriver(store, self.labels)
        self._claims: dict[str, dict[str, Any] | None] = {}
        self._support: dict[Triple, TripleSupport | None] = {}

    def claim(self, iri: str) -> dict[str, Any] | None:
        """The provenance of one claim graph as a dict (without `supports`), or None."""
        if iri not in self._claims:
            self._claims[iri] = self._load_claim(iri)
        return self._claims[iri]

    def _load_claim(self, iri: str) -> dict[str, Any] | None:
        node = ox.NamedNode(iri)
        out: dict[str, Any] = dict.fromkeys(
            ["record_id", "text", "subject", "source", "locator", "confidence", "note",
             "primary_source"])
        found = False
        for q in quads(self.store, node, None, None, PROVENANCE):
            key = _FIELDS.get(q.p.value)
            if key:
                found = True
                out[key] = q.o.value
        if not found or out["source"] is None:
            return None
        if out["confidence"]:
            out["confidence"] = self.labels.label(ox.NamedNode(out["confidence"]))
        src = self.source(out["source"])
        prim = self.source(out["primary_source"]) if out["primary_source"] else None
        return {"claim": iri, **out, "source_title": src.get("title"),
                "source_url": src.get("url"), "source_publisher": src.get("publisher"),
                "source_issued": src.get("issued"),
                "primary_source_title": prim.get("title") if prim else None}

    def source(self, iri: str) -> dict[str, str]:
        """Title, url, publisher and issued date of a source, from the provenance graph."""
        keys = {DCT + "title": "title", SCHEMA_URL: "url", DCT + "publisher": "publisher",
                DCT + "issued": "issued"}
        out: dict[str, str] = {}
        for q in quads(self.store, ox.NamedNode(iri), None, None, PROVENANCE):
            key = keys.get(q.p.value)
            if key and key not in out:
                out[key] = q.o.value
        return out

    def support(self, t: Triple) -> TripleSupport | None:
        """What supports one ground triple, or None if it is not a claim or inferred fact."""
        if t not in self._support:
            claims, inferred = [], False
            for q in quads(self.store, *t):
                kind = graph_kind(q.g)
                if is_claim_graph(q.g):
                    claims.append(q.g.value)
                inferred = inferred or kind == "inferred"
            found: TripleSupport | None = None
            if claims or inferred:
                found = TripleSupport(t, sorted(claims), inferred and not claims)
                if found.inferred:
                    found.derivations = self.deriver.explain(t)
            self._support[t] = found
        return self._support[t]

    def match(self, s: Term | None, p: ox.NamedNode | None, o: Term | None,
              lexical: str | None = None) -> list[TripleSupport]:
        """Every claim or inferred triple matching the pattern, sorted. Derivations are not
        computed here (call `explain` on the page you show). `lexical` matches a literal
        object by its text whatever its datatype."""
        groups: dict[Triple, tuple[list[str], bool]] = {}
        for q in quads(self.store, s, p, o, None):
            kind = graph_kind(q.g)
            if kind not in ("claim", "inferred"):
                continue
            if lexical is not None and not (isinstance(q.o, ox.Literal)
                                            and q.o.value == lexical):
                continue
            t = (q.s, q.p, q.o)
            claims, inferred = groups.get(t, ([], False))
            if is_claim_graph(q.g):
                claims.append(q.g.value)
            groups[t] = (claims, inferred or kind == "inferred")
        out = [TripleSupport(t, sorted(c), i and not c) for t, (c, i) in groups.items()]
        out.sort(key=lambda ts: (term_key(ts.triple[0]), ts.triple[1].value,
                                 term_key(ts.triple[2])))
        return out

    def explain(self, ts: TripleSupport) -> TripleSupport:
        """Fill in the derivations of an inferred triple."""
        if ts.inferred and not ts.derivations:
            ts.derivations = self.deriver.explain(ts.triple)
        return ts

    def cite(self, supports: Sequence[TripleSupport]) -> list[dict[str, Any]]:
        """Claim dicts (see the module docstring) for a set of supported triples."""
        out: dict[str, dict[str, Any]] = {}
        for ts in supports:
            row = triple_json(ts.triple)
            for iri in ts.claims:
                self._add(out, iri, {**row, "inferred": False})
            for iri in ts.all_claims() if ts.inferred else []:
                self._add(out, iri, {**row, "inferred": True})
        return list(out.values())

    def claims_named(self, iris: Sequence[str], already: Sequence[TripleSupport]
                     ) -> list[dict[str, Any]]:
        """Claim dicts (with no `supports`) for claims a result row names by their IRI, except
        those already cited for the row's triples."""
        cited = {c for ts in already for c in ts.all_claims()}
        return [{**info, "supports": []} for iri in dict.fromkeys(iris)
                if iri not in cited and (info := self.claim(iri)) is not None]

    def _add(self, out: dict[str, dict[str, Any]], iri: str, row: dict[str, Any]) -> None:
        info = self.claim(iri)
        if info is None:
            return
        entry = out.setdefault(iri, {**info, "supports": []})
        if row not in entry["supports"]:
            entry["supports"].append(row)


def triple_json(t: Triple) -> dict[str, Any]:
    return {"s": to_json(t[0]), "p": to_json(t[1]), "o": to_json(t[2])}


def derivation_json(d: Derivation, citer: Citer) -> dict[str, Any]:
    """A derivation tree as JSON, with each premise's claims as claim IRIs."""
    return {"rule": d.rule, "because": d.because,
            "premises": [{**triple_json(p.triple), "claims": p.claims,
                          "derivation": derivation_json(p.derivation, citer)
                          if p.derivation else None} for p in d.premises]}


def parse_pattern(store: ox.Store, s: str, p: str, o: str
                  ) -> tuple[ox.NamedNode | ox.BlankNode | None, ox.NamedNode | None,
                             Term | None, str | None]:
    """A triple pattern typed by a user (empty = open) as (s, p, o, lexical) for Citer.match.

    `a` is rdf:type. Unquoted text as the value matches a literal of any datatype by its
    text, so `83.5` finds "83.5"^^xsd:decimal. Raises QueryError for a malformed part."""
    def term(text: str, role: str) -> Term | None:
        if not text:
            return None
        try:
            return parse_term(text, store)
        except QueryError as exc:
            raise QueryError(f"{role}: {exc.message}") from None

    subj = term(s, "s")
    prop = RDF_TYPE if p.strip() == "a" else term(p, "p")
    obj = term(o, "o")
    if subj is not None and not isinstance(subj, ox.NamedNode | ox.BlankNode):
        raise QueryError(f"the subject must be an IRI, not the literal {s!r}")
    if prop is not None and not isinstance(prop, ox.NamedNode):
        raise QueryError(f"the property must be an IRI or prefixed name, not {p!r}")
    lexical = None
    if isinstance(obj, ox.Literal) and not o.strip().startswith('"') and \
            obj.datatype.value == XSD + "string":
        lexical, obj = obj.value, None
    return subj, prop, obj, lexical


def supporting_claims(store: ox.Store, s: Term | None = None, p: ox.NamedNode | None = None,
                      o: Term | None = None) -> list[dict[str, Any]]:
    """The claims that support the triples matching (s, p, o); None is open. For inferred
    triples, the asserted claims they were derived from (marked `inferred` in `supports`)."""
    citer = Citer(store)
    return citer.cite([citer.explain(ts) for ts in citer.match(s, p, o)])


def row_citations(store: ox.Store, query_text: str,
                  rows: Sequence[Mapping[str, Any]]) -> list[list[dict[str, Any]]]:
    """For each SELECT result row, the claims supporting the triples that row matched.

    `rows` are mappings from variable name (without `?`) to a pyoxigraph term or a SPARQL
    JSON term. See rowcite.py for how the matched triples are found and its limits."""
    from fentanyl_kg.web.rowcite import cite_rows  # rdflib's parser is loaded on first use

    return cite_rows(store, query_text, rows).rows
