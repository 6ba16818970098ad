"""Result formats of /sparql: the content-negotiation table and the serializers.

SELECT and ASK results: SPARQL JSON, XML, CSV and TSV. CONSTRUCT and DESCRIBE: Turtle,
N-Triples, JSON-LD (compact, jsonld.py) and RDF/XML; the pages also offer TriG and N-Quads and
read Accept with the same table. A client that accepts only one family gets the other query
forms in its default format (SPARQL JSON, Turtle), as Fuseki does.

SELECT results are written here rather than by pyoxigraph so that a result cut at MAX_ROWS
can say so: the JSON gets a top-level `"truncated": true` (and, on request, `"citations"`),
the XML a comment; every format also gets the response header `Fentanyl-KG-Truncated`.
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

from fentanyl_kg.namespaces import PREFIXES
from fentanyl_kg.web import conneg, jsonld

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
# Dataset formats, offered by the Linked Data pages only (CONSTRUCT and DESCRIBE give triples).
DATASETS = (
    Format("trig", "application/trig", "dataset", ("application/trig", "application/x-trig"),
           "http://www.w3.org/ns/formats/TriG"),
    Format("nquads", "application/n-quads", "dataset", ("application/n-quads", "text/x-nquads"),
           "http://www.w3.org/ns/formats/N-Quads"),
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
    with its q-values (conneg.py); among equally acceptable formats the first in the table."""
    if override:
        key = override.strip().lower()
        if "/" in key:  # a media type: read it as the whole Accept header
            accept = key
        elif key in _OVERRIDES:
            results_name, graph_name = _OVERRIDES[key]
            return Choice(BY_NAME.get(results_name or ""), BY_NAME.get(graph_name or ""))
        else:
            raise NotAcceptable(f"Unknown format={override!r}; use one of "
                                f"{', '.join(sorted(_OVERRIDES))}, or a media type.")
    entries = conneg.parse(accept)
    results, graphs = conneg.best(entries, RESULTS), conneg.best(entries, GRAPHS)
    html_q = max((q for v, q in entries if v == "text/html"), default=0)
    best_q = max((conneg.quality(entries, f)[0] for f in (results, graphs) if f), default=0)
    html = html_q > 0 and html_q >= best_q
    if not override:
        # A client that accepts only one family of formats (roqet sends the results XML type
        # for every query) still gets the other query forms in their default format, as
        # Fuseki answers; only an Accept that names no format of ours at all is refused.
        if results is None and graphs is not None:
            results = RESULTS[0]
        elif graphs is None and results is not None:
            graphs = GRAPHS[0]
    return Choice(results, graphs, html=html)


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
    """ASK results in `fmt`. SPARQL 1.1 CSV/TSV define no boolean form; this is the one Jena
    writes and reads (ResultSetReaderCSV/TSV): the header `_askResult` (TSV `?_askResult`),
    then the word on the next line. Other readers see a one-column table."""
    word = "true" if value else "false"
    if fmt.name == "json":
        return b'{"head":{},"boolean":%s}' % word.encode()
    if fmt.name == "xml":
        return ('<?xml version="1.0" encoding="utf-8"?>\n<sparql xmlns="http://www.w3.org/2005/'
                f'sparql-results#">\n<head/>\n<boolean>{word}</boolean>\n</sparql>\n').encode()
    if fmt.name == "csv":
        return f"_askResult\r\n{word}\r\n".encode()
    return f"?_askResult\n{word}\n".encode()


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
    if fmt.name == "jsonld":
        return jsonld.serialize(triples)
    body = ox.serialize(triples, format=_RDF_FORMATS[fmt.name],
                        prefixes=used_prefixes(triples) if fmt.name != "ntriples" else None) or b""
    if truncated and fmt.name in ("turtle", "ntriples"):
        body = f"# truncated: only the first {max_rows} triples are given\n".encode() + body
    return body


def used_prefixes(triples: Iterable[ox.Triple]) -> dict[str, str]:
    """The project prefixes that some IRI in `triples` starts with."""
    iris = {t.value for triple in triples for t in triple if isinstance(t, ox.NamedNode)}
    return {p: ns for p, ns in PREFIXES.items() if any(i.startswith(ns) for i in iris)}
