"""Result formats of /sparql: the content-negotiation table and the serializers.

SELECT and ASK results: SPARQL JSON, XML, CSV and TSV. CONSTRUCT and DESCRIBE: Turtle,
N-Triples, JSON-LD and RDF/XML. SELECT results are written here rather than by pyoxigraph so
that a result cut at MAX_ROWS can say so: the JSON gets a top-level `"truncated": true` (and,
on request, `"citations"`), the XML a comment; every format also gets the response header
`Fentanyl-KG-Truncated`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph as ox
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from fentanyl_kg.namespaces import PREFIXES

XSD = "http://www.w3.org/2001/XMLSchema#"
Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple
Row = Sequence[Term | None]


@dataclass(frozen=True)
class Format:
    name: str  # what `format=` names it
    media_type: str  # the Content-Type of the response (charset added for text/*)
    kind: str  # "results" (SELECT, ASK) or "graph" (CONSTRUCT, DESCRIBE)
    accepts: tuple[str, ...]  # media types in Accept that select it, best first
    w3c: str  # IRI naming the format (service description)


RESULTS = (
    Format("json", "application/sparql-results+json", "results",
           ("application/sparql-results+json", "application/json"),
           "http://www.w3.org/ns/formats/SPARQL_Results_JSON"),
    Format("xml", "application/sparql-results+xml", "results",
           ("application/sparql-results+xml", "application/xml", "text/xml"),
           "http://www.w3.org/ns/formats/SPARQL_Results_XML"),
    Format("csv", "text/csv", "results", ("text/csv",),
           "http://www.w3.org/ns/formats/SPARQL_Results_CSV"),
    Format("tsv", "text/tab-separated-values", "results", ("text/tab-separated-values",),
           "http://www.w3.org/ns/formats/SPARQL_Results_TSV"),
)
GRAPHS = (
    Format("turtle", "text/turtle", "graph", ("text/turtle", "application/x-turtle",
                                              "application/turtle", "text/n3", "text/rdf+n3"),
           "http://www.w3.org/ns/formats/Turtle"),
    Format("ntriples", "application/n-triples", "graph", ("application/n-triples",),
           "http://www.w3.org/ns/formats/N-Triples"),
    Format("jsonld", "application/ld+json", "graph",
           ("application/ld+json", "application/x-json+ld", "application/json"),
           "http://www.w3.org/ns/formats/JSON-LD"),
    Format("rdfxml", "application/rdf+xml", "graph", ("application/rdf+xml", "application/xml",
                                                      "text/xml"),
           "http://www.w3.org/ns/formats/RDF_XML"),
)
BY_NAME = {f.name: f for f in RESULTS + GRAPHS}
# `format=` values, as short names (including those SPARQLWrapper sends) or media types; each
# names the results format and the graph format it means.
_OVERRIDES: dict[str, tuple[str | None, str | None]] = {
    "json": ("json", "jsonld"), "xml": ("xml", "rdfxml"), "csv": ("csv", None),
    "tsv": ("tsv", None), "turtle": (None, "turtle"), "ttl": (None, "turtle"),
    "n3": (None, "turtle"), "ntriples": (None, "ntriples"), "nt": (None, "ntriples"),
    "n-triples": (None, "ntriples"), "jsonld": (None, "jsonld"), "json-ld": (None, "jsonld"),
    "rdfxml": (None, "rdfxml"), "rdf+xml": (None, "rdfxml"), "rdf": (None, "rdfxml"),
}
_RDF_FORMATS = {"turtle": ox.RdfFormat.TURTLE, "ntriples": ox.RdfFormat.N_TRIPLES,
                "jsonld": ox.RdfFormat.JSON_LD, "rdfxml": ox.RdfFormat.RDF_XML}


class NotAcceptable(Exception):
    """No format we offer is acceptable to the client."""


@dataclass(frozen=True)
class Choice:
    results: Format | None  # for SELECT and ASK
    graph: Format | None  # for CONSTRUCT and DESCRIBE
    html: bool = False  # the client prefers an HTML page to any of them


def content_type(fmt: Format) -> str:
    """The Content-Type header for `fmt`."""
    return fmt.media_type + ("; charset=utf-8" if fmt.media_type.startswith("text/") else "")


def negotiate(accept: str | None, override: str | None) -> Choice:
    """The formats to answer in: `format=` wins (a short name or a media type), then Accept
    with its q-values; among equally acceptable formats the first one in the table wins."""
    if override:
        key = override.strip().lower()
        if "/" in key:  # a media type: read it as the whole Accept header
            accept = key
        elif key in _OVERRIDES:
            results, graph = _OVERRIDES[key]
            return Choice(BY_NAME.get(results or ""), BY_NAME.get(graph or ""))
        else:
            raise NotAcceptable(f"Unknown format={override!r}; use one of "
                                f"{', '.join(sorted(_OVERRIDES))}, or a media type.")
    entries = [(v.split(";")[0].strip().lower(), q)
               for v, q in parse_accept_header(accept or "*/*", MIMEAccept)]
    offers = (_best(entries, RESULTS), _best(entries, GRAPHS))
    html_q = max((q for v, q in entries if v == "text/html"), default=0)
    best_q = max((_format_q(entries, f) for f in offers if f), default=0)
    return Choice(offers[0], offers[1], html=html_q > 0 and html_q >= best_q)


def _best(entries: list[tuple[str, float]], formats: Sequence[Format]) -> Format | None:
    """The acceptable format with the highest q; on a tie, the first in the table."""
    scored = [(q, -i, f) for i, f in enumerate(formats) if (q := _format_q(entries, f)) > 0]
    return max(scored, key=lambda t: (t[0], t[1]))[2] if scored else None


def _format_q(entries: list[tuple[str, float]], fmt: Format) -> float:
    """The q the client gives a format: that of its own media type when named (so q=0 refuses
    it), else the best q of any media type that selects it."""
    for value, q in entries:
        if value == fmt.media_type:
            return q
    return max(_media_q(entries, m) for m in fmt.accepts)


def _media_q(entries: list[tuple[str, float]], media: str) -> float:
    """The q of the most specific Accept range matching `media` (RFC 9110, 12.5.1)."""
    kind = media.split("/")[0]
    best: tuple[int, float] | None = None
    for value, q in entries:
        rank = 2 if value == media else 1 if value == f"{kind}/*" else \
            0 if value in ("*/*", "*") else -1
        if rank >= 0 and (best is None or rank > best[0]):
            best = (rank, q)
    return best[1] if best else 0.0


def supported(kind: str) -> str:
    """The media types offered for `kind`, for error messages."""
    return ", ".join(f.media_type for f in (RESULTS if kind == "results" else GRAPHS))


# -- SELECT and ASK ----------------------------------------------------------------------------
def solutions(fmt: Format, variables: Sequence[str], rows: Sequence[Row], truncated: bool,
              max_rows: int) -> bytes:
    """SELECT results in `fmt`."""
    if fmt.name == "json":
        return json.dumps(solutions_json(variables, rows, truncated),
                          ensure_ascii=False, separators=(",", ":")).encode()
    if fmt.name == "xml":
        return _xml(variables, rows, truncated, max_rows).encode()
    if fmt.name == "csv":
        return _csv(variables, rows).encode()
    return _tsv(variables, rows).encode()


def solutions_json(variables: Sequence[str], rows: Sequence[Row],
                   truncated: bool) -> dict[str, object]:
    """SELECT results as the SPARQL 1.1 JSON object (plus `truncated` when cut)."""
    out: dict[str, object] = {"head": {"vars": list(variables)}, "results": {"bindings": [
        {v: _json_term(t) for v, t in zip(variables, row, strict=True) if t is not None}
        for row in rows]}}
    if truncated:
        out["truncated"] = True
    return out


def boolean(fmt: Format, value: bool) -> bytes:
    """ASK results in `fmt` (CSV and TSV: the bare word, as pyoxigraph and Jena write it)."""
    word = "true" if value else "false"
    if fmt.name == "json":
        return b'{"head":{},"boolean":%s}' % word.encode()
    if fmt.name == "xml":
        return ('<?xml version="1.0" encoding="utf-8"?>\n<sparql xmlns="http://www.w3.org/2005/'
                f'sparql-results#">\n<head/>\n<boolean>{word}</boolean>\n</sparql>\n').encode()
    return word.encode() + b"\n"


def _json_term(t: Term) -> dict[str, object]:
    if isinstance(t, ox.NamedNode):
        return {"type": "uri", "value": t.value}
    if isinstance(t, ox.BlankNode):
        return {"type": "bnode", "value": t.value}
    if isinstance(t, ox.Triple):
        return {"type": "triple", "value": {"subject": _json_term(t.subject),
                                            "predicate": _json_term(t.predicate),
                                            "object": _json_term(t.object)}}
    out: dict[str, object] = {"type": "literal", "value": t.value}
    if t.language:
        out["xml:lang"] = t.language
        if t.direction:
            out["its:dir"] = t.direction.value if hasattr(t.direction, "value") else str(
                t.direction)
    elif t.datatype.value != XSD + "string":
        out["datatype"] = t.datatype.value
    return out


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(text: str) -> str:
    """Text fit for XML 1.0: escaped, and characters XML cannot carry replaced by U+FFFD."""
    return escape(_NOT_XML.sub("\ufffd", text))


def _xml_term(t: Term) -> str:
    if isinstance(t, ox.NamedNode):
        return f"<uri>{_x(t.value)}</uri>"
    if isinstance(t, ox.BlankNode):
        return f"<bnode>{_x(t.value)}</bnode>"
    if isinstance(t, ox.Triple):
        return (f"<triple><subject>{_xml_term(t.subject)}</subject><predicate>"
                f"{_xml_term(t.predicate)}</predicate><object>{_xml_term(t.object)}</object>"
                "</triple>")
    if t.language:
        return f"<literal xml:lang={quoteattr(t.language)}>{_x(t.value)}</literal>"
    if t.datatype.value != XSD + "string":
        return f"<literal datatype={quoteattr(t.datatype.value)}>{_x(t.value)}</literal>"
    return f"<literal>{_x(t.value)}</literal>"


def _xml(variables: Sequence[str], rows: Sequence[Row], truncated: bool, max_rows: int) -> str:
    out = ['<?xml version="1.0" encoding="utf-8"?>\n'
           '<sparql xmlns="http://www.w3.org/2005/sparql-results#">\n<head>']
    out += [f"<variable name={quoteattr(v)}/>" for v in variables]
    out.append("</head>\n")
    if truncated:
        out.append(f"<!-- truncated: only the first {max_rows} rows are given -->\n")
    out.append("<results>\n")
    for row in rows:
        out.append("<result>")
        out += [f"<binding name={quoteattr(v)}>{_xml_term(t)}</binding>"
                for v, t in zip(variables, row, strict=True) if t is not None]
        out.append("</result>\n")
    out.append("</results>\n</sparql>\n")
    return "".join(out)


def _csv_value(t: Term | None) -> str:
    if t is None:
        return ""
    if isinstance(t, ox.BlankNode):
        return f"_:{t.value}"
    if isinstance(t, ox.Triple):
        return str(t)
    return t.value


def _csv(variables: Sequence[str], rows: Sequence[Row]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(variables)
    writer.writerows([_csv_value(t) for t in row] for row in rows)
    return buf.getvalue()


_SHORT = {XSD + "integer": re.compile(r"[+-]?\d+"), XSD + "boolean": re.compile(r"true|false")}


def _tsv_value(t: Term | None) -> str:
    if t is None:
        return ""
    if isinstance(t, ox.Literal) and t.datatype.value in _SHORT and not t.language \
            and _SHORT[t.datatype.value].fullmatch(t.value):
        return t.value
    return str(t).replace("\t", "\\t")


def _tsv(variables: Sequence[str], rows: Sequence[Row]) -> str:
    lines = ["\t".join(f"?{v}" for v in variables)]
    lines += ["\t".join(_tsv_value(t) for t in row) for row in rows]
    return "\n".join(lines) + "\n"


# -- CONSTRUCT and DESCRIBE --------------------------------------------------------------------
def graph(fmt: Format, triples: Sequence[ox.Triple], truncated: bool, max_rows: int) -> bytes:
    """CONSTRUCT or DESCRIBE results in `fmt`; Turtle and N-Triples say when they were cut."""
    body = ox.serialize(triples, format=_RDF_FORMATS[fmt.name],
                        prefixes=used_prefixes(triples) if fmt.name != "ntriples" else None) or b""
    if truncated and fmt.name in ("turtle", "ntriples"):
        body = f"# truncated: only the first {max_rows} triples are given\n".encode() + body
    return body


def used_prefixes(triples: Iterable[ox.Triple]) -> dict[str, str]:
    """The project prefixes that some IRI in `triples` starts with."""
    iris = {t.value for triple in triples for t in triple if isinstance(t, ox.NamedNode)}
    return {p: ns for p, ns in PREFIXES.items() if any(i.startswith(ns) for i in iris)}
