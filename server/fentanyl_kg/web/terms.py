"""RDF terms on the web: reading them from user input, labelling them, turning them into links.

Nothing here knows the domain. Links come from two rules: an IRI under the public base is a
page of this server, and an identifier property's `fkg:formatterURL` annotation turns its
value into an external link.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple, TypeGuard

import pyoxigraph as ox

from fentanyl_kg.errors import QueryError
from fentanyl_kg.namespaces import (
    FKG,
    GRAPH,
    ID,
    INFERRED_GRAPH,
    ONTOLOGY_GRAPH,
    PREFIXES,
    PROVENANCE_GRAPH,
)

Term = ox.NamedNode | ox.BlankNode | ox.Literal
Bindings = dict[ox.Variable, ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple]
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
RDFS_LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
RDFS_COMMENT = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#comment")
SKOS_PREF = ox.NamedNode("http://www.w3.org/2004/02/skos/core#prefLabel")
SKOS_ALT = ox.NamedNode("http://www.w3.org/2004/02/skos/core#altLabel")
DCT_TITLE = ox.NamedNode("http://purl.org/dc/terms/title")
LABEL_PROPERTIES = (RDFS_LABEL, SKOS_PREF, SKOS_ALT)
FORMATTER_URL = ox.NamedNode(str(FKG) + "formatterURL")
INFERRED = ox.NamedNode(str(INFERRED_GRAPH))
PROVENANCE = ox.NamedNode(str(PROVENANCE_GRAPH))
ONTOLOGY = ox.NamedNode(str(ONTOLOGY_GRAPH))
NOT_CLAIMS = {str(INFERRED_GRAPH), str(PROVENANCE_GRAPH), str(ONTOLOGY_GRAPH)}
XSD = "http://www.w3.org/2001/XMLSchema#"
_BAD_IRI = re.compile(r'[\s<>"{}|\\^`]')
_PREFIXED = re.compile(r"^([A-Za-z][\w-]*):([\w.-]*)$")
_LITERAL = re.compile(r'^"(.*)"(?:@([A-Za-z]+(?:-[A-Za-z0-9]+)*)|\^\^(\S+))?$', re.S)
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class Fact(NamedTuple):
    """A quad as the pages use it: no RDF-star, and g is None for the default graph."""

    s: ox.NamedNode | ox.BlankNode
    p: ox.NamedNode
    o: Term
    g: ox.NamedNode | None

    @property
    def triple(self) -> tuple[ox.NamedNode | ox.BlankNode, ox.NamedNode, Term]:
        return (self.s, self.p, self.o)


def quads(store: ox.Store, s: Term | None = None, p: ox.NamedNode | None = None,
          o: Term | None = None, g: ox.NamedNode | ox.DefaultGraph | None = None
          ) -> Iterator[Fact]:
    """Store.quads_for_pattern, typed for this dataset (it has no quoted triples). A literal
    subject matches nothing."""
    if isinstance(s, ox.Literal):
        return
    for q in store.quads_for_pattern(s, p, o, g):
        subj, obj, graph = q.subject, q.object, q.graph_name
        if isinstance(subj, ox.Triple) or isinstance(obj, ox.Triple):
            continue
        yield Fact(subj, q.predicate, obj, graph if isinstance(graph, ox.NamedNode) else None)


def is_claim_graph(graph: object) -> TypeGuard[ox.NamedNode]:
    """Every named graph except provenance, ontology and inferred holds one claim (CONTRACT)."""
    return isinstance(graph, ox.NamedNode) and graph.value not in NOT_CLAIMS


def claim_graphs(store: ox.Store) -> list[ox.NamedNode]:
    """The claim graphs of the store, sorted."""
    return sorted((g for g in store.named_graphs() if isinstance(g, ox.NamedNode)
                   and is_claim_graph(g)), key=str)


def default_graph_args(store: ox.Store) -> dict[str, Any]:
    """Keyword arguments for Store.query that make the default graph claims + inferred.

    If whoever loaded the store copied those triples into its default graph (the fast way:
    pyoxigraph 0.5 evaluates a list of a thousand default graphs about 100 times slower),
    that graph is used; otherwise the list of graphs is passed."""
    for _ in quads(store, g=ox.DefaultGraph()):
        return {}
    return {"default_graph": [*claim_graphs(store), INFERRED]}


def iri(text: str) -> ox.NamedNode:
    """A NamedNode from an absolute IRI, or QueryError."""
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", text) or _BAD_IRI.search(text):
        raise QueryError(f"'{text}' is not an absolute IRI")
    try:
        return ox.NamedNode(text)
    except ValueError as exc:
        raise QueryError(f"'{text}' is not a valid IRI: {exc}") from None


def expand(text: str) -> ox.NamedNode | None:
    """`prefix:local` with a known prefix, expanded; None if it is not one."""
    m = _PREFIXED.match(text)
    if m and m.group(1) in PREFIXES:
        return iri(PREFIXES[m.group(1)] + m.group(2))
    return None


def parse_term(text: str, store: ox.Store | None = None) -> Term:
    """A term typed by a user: `<iri>`, an absolute IRI, `prefix:name`, an N-Triples literal
    (`"x"@en`, `"2024"^^xsd:gYear`), an entity slug that exists in the store, or else a plain
    literal. Raises QueryError for a malformed IRI."""
    text = text.strip()
    if text.startswith("<") and text.endswith(">"):
        return iri(text[1:-1])
    m = _LITERAL.match(text)
    if m:
        lexical, lang, dtype = m.groups()
        if lang:
            return ox.Literal(lexical, language=lang.lower())
        if dtype:
            dt = iri(dtype[1:-1]) if dtype.startswith("<") else expand(dtype)
            if dt is None:
                raise QueryError(f"unknown datatype {dtype}")
            return ox.Literal(lexical, datatype=dt)
        return ox.Literal(lexical)
    named = expand(text)
    if named is not None:
        return named
    if re.match(r"^(https?|urn):", text):
        return iri(text)
    if _SLUG.match(text) and store is not None and exists(store, ox.NamedNode(str(ID) + text)):
        return ox.NamedNode(str(ID) + text)
    return ox.Literal(text)


def exists(store: ox.Store, node: ox.NamedNode) -> bool:
    """Whether the IRI occurs as a subject or object anywhere in the store."""
    return any(True for _ in quads(store, node)) or any(True for _ in quads(store, o=node))


def compact(value: str) -> str:
    """`prefix:local` for an IRI in a known namespace, else the IRI itself."""
    best = ""
    for prefix, ns in PREFIXES.items():
        if value.startswith(ns) and len(ns) > len(PREFIXES.get(best, "")):
            local = value[len(ns):]
            if re.match(r"^[\w.-]*$", local):
                best = prefix
    return f"{best}:{value[len(PREFIXES[best]):]}" if best else value


def local_path(value: str, public_base: str, root: str = "") -> str | None:
    """The path of this server that serves an IRI under the public base, else None."""
    if not value.startswith(public_base):
        return None
    return root + "/" + value[len(public_base):]


def term_key(term: Term) -> tuple[int, str, str]:
    """A sort key that orders IRIs before literals and numbers by value."""
    if isinstance(term, ox.Literal):
        dt = term.datatype.value
        if dt in (XSD + "decimal", XSD + "integer", XSD + "double", XSD + "float"):
            try:
                return (1, f"{float(term.value):030.6f}", "")
            except ValueError:
                pass
        return (2, term.value, term.language or dt)
    return (0, term.value, "")


class Labeller:
    """Finds display labels (English first) for IRIs, memoised for one request."""

    def __init__(self, store: ox.Store, lang: str = "en") -> None:
        self.store, self.lang = store, lang
        self.cache: dict[str, str | None] = {}

    def label(self, term: Term) -> str | None:
        if not isinstance(term, ox.NamedNode):
            return None
        if term.value not in self.cache:
            self.cache[term.value] = self._find(term)
        return self.cache[term.value]

    def _find(self, node: ox.NamedNode) -> str | None:
        for prop in (RDFS_LABEL, SKOS_PREF, DCT_TITLE):
            found = [q.o for q in quads(self.store, node, prop) if isinstance(q.o, ox.Literal)]
            if found:
                return pick_language(found, self.lang).value
        return None


def pick_language(literals: Iterable[ox.Literal], lang: str = "en") -> ox.Literal:
    """The literal in `lang`, else one without a language, else the first by language."""
    ranked = sorted(literals, key=lambda lit: (lit.language != lang, lit.language is not None,
                                               lit.language or "", lit.value))
    return ranked[0]


def to_json(term: Term) -> dict[str, str]:
    """A term in the SPARQL 1.1 Query Results JSON shape."""
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    out = {"type": "literal", "value": term.value}
    if term.language:
        out["xml:lang"] = term.language
    elif term.datatype.value != XSD + "string":
        out["datatype"] = term.datatype.value
    return out


def from_json(value: Any) -> Term | None:
    """A pyoxigraph term from a SPARQL JSON term, a pyoxigraph term, or None."""
    if value is None or isinstance(value, ox.NamedNode | ox.BlankNode | ox.Literal):
        return value
    if not isinstance(value, dict):
        return None
    kind, text = value.get("type"), value.get("value", "")
    if kind == "uri":
        return ox.NamedNode(text)
    if kind == "bnode":
        return ox.BlankNode(text)
    if kind in ("literal", "typed-literal"):
        if value.get("xml:lang"):
            return ox.Literal(text, language=value["xml:lang"])
        if value.get("datatype"):
            return ox.Literal(text, datatype=ox.NamedNode(value["datatype"]))
        return ox.Literal(text)
    return None


def graph_kind(graph: object) -> str:
    """'claim', 'inferred', 'provenance', 'ontology' or 'other' for a graph name."""
    if not isinstance(graph, ox.NamedNode):
        return "other"
    return {str(INFERRED_GRAPH): "inferred", str(PROVENANCE_GRAPH): "provenance",
            str(ONTOLOGY_GRAPH): "ontology"}.get(graph.value, "claim")


GRAPH_NAMES = {"inferred": INFERRED, "provenance": PROVENANCE, "ontology": ONTOLOGY}
GRAPH_BASE = str(GRAPH)
