"""Read-side helpers over a loaded release: the query dataset and citation lookup."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyoxigraph as ox

from fentanyl_kg.namespaces import (
    CLAIM,
    ID,
    INFERRED_GRAPH,
    ONTOLOGY_GRAPH,
    PREFIXES,
    PROVENANCE_GRAPH,
)

Term = ox.NamedNode | ox.Literal
_NOT_DEFAULT = {str(PROVENANCE_GRAPH), str(ONTOLOGY_GRAPH)}


def union_graphs(store: ox.Store) -> list[ox.NamedNode | ox.BlankNode | ox.DefaultGraph]:
    """The graphs that make up the default graph of a query: every claim graph plus inferred."""
    return sorted((g for g in store.named_graphs()
                   if isinstance(g, ox.NamedNode) and g.value not in _NOT_DEFAULT), key=str)  # type: ignore[return-value]


def parse_term(text: str) -> Term:
    """A term typed by a user: <iri>, prefix:name, an entity slug, or a literal."""
    text = text.strip()
    if text.startswith("<") and text.endswith(">"):
        return ox.NamedNode(text[1:-1])
    m = re.match(r"^([A-Za-z][\w-]*):([\w.-]+)$", text)
    if m and m.group(1) in PREFIXES:
        return ox.NamedNode(PREFIXES[m.group(1)] + m.group(2))
    if re.match(r"^https?://\S+$", text):
        return ox.NamedNode(text)
    if re.match(r"^[a-z][a-z0-9-]*$", text):
        return ox.NamedNode(str(ID) + text)
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return ox.Literal(text)


@dataclass(frozen=True)
class Citation:
    claim: str
    record_id: str
    text: str
    source: str
    source_title: str
    locator: str
    confidence: str | None
    note: str | None
    primary: str | None
    triple: tuple[str, str, str]


def _values(var: str, term: Term | None) -> str:
    return "" if term is None else f"VALUES ?{var} {{ {term} }}"


def cite(store: ox.Store, s: Term | None = None, p: Term | None = None,
         o: Term | None = None, claim: ox.NamedNode | None = None) -> list[Citation]:
    """Every asserted triple matching the pattern, with the claim, source and locator behind it.

    A literal object matches by its text, so `83.5` finds "83.5"^^xsd:decimal.
    """
    literal_filter = ""
    if isinstance(o, ox.Literal):
        literal_filter = f"FILTER(isLiteral(?o) && STR(?o) = {ox.Literal(o.value)})"
        o = None
    query = f"""
    PREFIX prov: <http://www.w3.org/ns/prov#>
    PREFIX fkg: <https://w3id.org/fentanyl-kg/ontology#>
    PREFIX dcterms: <http://purl.org/dc/terms/>
    SELECT ?claim ?s ?p ?o ?rid ?text ?src ?title ?loc ?conf ?note ?primary WHERE {{
      {_values("claim", claim)} {_values("s", s)} {_values("p", p)} {_values("o", o)}
      GRAPH <{PROVENANCE_GRAPH}> {{
        ?claim a fkg:Claim ; prov:wasDerivedFrom ?src ; fkg:locator ?loc ; fkg:recordId ?rid ;
               dcterms:description ?text .
        ?src dcterms:title ?title .
        OPTIONAL {{ ?claim fkg:confidence ?conf }}
        OPTIONAL {{ ?claim fkg:curatorNote ?note }}
        OPTIONAL {{ ?claim fkg:primarySource ?primary }}
      }}
      GRAPH ?claim {{ ?s ?p ?o }}
      {literal_filter}
    }} ORDER BY ?rid ?s ?p ?o"""
    out = []
    for row in store.query(query):  # type: ignore[union-attr]
        def val(name: str, row: ox.QuerySolution = row) -> str | None:
            term = row[name]
            return None if term is None else term.value
        out.append(Citation(
            claim=val("claim") or "", record_id=val("rid") or "", text=val("text") or "",
            source=val("src") or "", source_title=val("title") or "", locator=val("loc") or "",
            confidence=(val("conf") or "").rsplit("#", 1)[-1] or None, note=val("note"),
            primary=val("primary"),
            triple=(str(row["s"]), str(row["p"]), str(row["o"]))))
    return out


def claim_from_text(text: str) -> ox.NamedNode | None:
    """A claim IRI or `claim:<hex>` as typed by a user, or None if it is not one."""
    text = text.strip().strip("<>")
    if text.startswith(str(CLAIM)):
        return ox.NamedNode(text)
    if text.startswith("claim:"):
        return ox.NamedNode(str(CLAIM) + text[len("claim:"):])
    return None


def inferred_graph() -> ox.NamedNode:
    return ox.NamedNode(str(INFERRED_GRAPH))
