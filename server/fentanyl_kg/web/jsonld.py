"""JSON-LD in compact form: the project's prefixes as the @context, one node object per subject.

pyoxigraph writes expanded JSON-LD (a bare array of full IRIs, no @context), which is valid but
hard to read. Here every IRI under a project prefix is written as a compact IRI (`fkg:Place`),
rdf:type becomes @type, and a plain string literal is a bare string; other literals keep their
datatype or language. The context is inlined (only the prefixes the data uses), so a processor
needs no network access to read a document; the full context is also served at
/context.jsonld for clients that compact their own data with our prefixes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import pyoxigraph as ox

from fentanyl_kg.namespaces import PREFIXES

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
DIR_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#dirLangString"


class NotCompactable(Exception):
    """The triples cannot be written in compact form with our context (then: expanded)."""


def context(prefixes: Mapping[str, str] = PREFIXES) -> dict[str, Any]:
    """A JSON-LD context document declaring `prefixes`."""
    return {"@context": dict(sorted(prefixes.items()))}


def serialize(triples: Iterable[ox.Triple]) -> bytes:
    """The triples as compact JSON-LD; expanded (pyoxigraph's) when they cannot be compacted."""
    triples = sorted(set(triples), key=str)
    try:
        return json.dumps(_compact(triples), ensure_ascii=False, indent=1).encode() + b"\n"
    except NotCompactable:
        return ox.serialize(triples, format=ox.RdfFormat.JSON_LD) or b"[]"


def _compact(triples: list[ox.Triple]) -> dict[str, Any]:
    used: dict[str, str] = {}
    nodes: dict[str, dict[str, Any]] = {}
    for t in triples:
        if isinstance(t.subject, ox.Triple) or isinstance(t.object, ox.Triple):
            raise NotCompactable("JSON-LD 1.1 has no triple terms")
        key = _ref(t.subject, used)
        node = nodes.setdefault(key, {"@id": key})
        if t.predicate.value == RDF_TYPE and not isinstance(t.object, ox.Literal):
            node.setdefault("@type", []).append(_ref(t.object, used))
            continue
        value: Any
        if isinstance(t.object, ox.Literal):
            value = _literal(t.object, used)
        else:
            value = {"@id": _ref(t.object, used)}
        node.setdefault(_iri(t.predicate.value, used), []).append(value)
    return {"@context": dict(sorted(used.items())), "@graph": list(nodes.values())}


def _ref(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple,
         used: dict[str, str]) -> str:
    if isinstance(term, ox.BlankNode):
        return "_:" + term.value
    if not isinstance(term, ox.NamedNode):
        raise NotCompactable(f"{term} cannot be a node reference")
    return _iri(term.value, used)


def _iri(value: str, used: dict[str, str]) -> str:
    """The compact IRI of `value` under the longest matching prefix, else `value` itself."""
    best = max((p for p, ns in PREFIXES.items() if value.startswith(ns)),
               key=lambda p: len(PREFIXES[p]), default=None)
    if best is not None:
        local = value[len(PREFIXES[best]):]
        if local and not local.startswith("//"):  # "p://x" would read as an absolute IRI
            used[best] = PREFIXES[best]
            return f"{best}:{local}"
    scheme = value.split(":", 1)[0]
    if scheme in PREFIXES:  # e.g. a geo: URI: with "geo" in the context it would be rewritten
        raise NotCompactable(f"<{value}> would be read as a compact IRI")
    return value


def _literal(lit: ox.Literal, used: dict[str, str]) -> Any:
    dtype = lit.datatype.value
    if dtype == XSD_STRING:
        return lit.value
    if lit.language:
        out: dict[str, str] = {"@value": lit.value, "@language": lit.language}
        if dtype == DIR_STRING and lit.direction is not None:
            direction = lit.direction
            out["@direction"] = str(getattr(direction, "value", direction)).lower()
        return out
    return {"@value": lit.value, "@type": _iri(dtype, used)}
