"""Property-based tests of /sparql: whatever a stranger sends (query text, bytes, token soup,
deep nesting, huge literals, any Accept, method, Content-Type or parameters), the answer is
never a server error other than 503, and every error has the one shape {"error", "status"}.
Valid SELECT and ASK queries answer 200 with results that parse.

They run the real app over the web fixture release (tests/data/web_release) with its real
query workers, through Flask's test client. Each test is bounded by max_examples."""

from __future__ import annotations

import json
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from flask import Flask
from hostile_support import PROPERTY, check_answer
from hypothesis import example, given
from hypothesis import strategies as st
from web_support import close_app, make_app

MAX_REQUEST_BYTES = 50_000
JSON_RESULTS = "application/sparql-results+json"
XML_RESULTS = "application/sparql-results+xml"
PREFIXES = ("PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "
            "PREFIX fkg: <https://w3id.org/fentanyl-kg/ontology#> "
            "PREFIX id: <https://w3id.org/fentanyl-kg/id/> ")


@pytest.fixture(scope="module")
def hostile_app() -> Iterator[Flask]:
    """The real app with a short time limit, so that a costly generated query ends quickly."""
    app = make_app(QUERY_TIMEOUT=3, MAX_REQUEST_BYTES=MAX_REQUEST_BYTES)
    yield app
    close_app(app)


# -- hostile inputs --------------------------------------------------------------------------
KEYWORDS = ["SELECT", "ASK", "CONSTRUCT", "DESCRIBE", "WHERE", "{", "}", "(", ")", ".", ";", ",",
            "FILTER", "OPTIONAL", "UNION", "MINUS", "GRAPH", "SERVICE", "SILENT", "BIND", "AS",
            "VALUES", "UNDEF", "ORDER BY", "GROUP BY", "HAVING", "LIMIT", "OFFSET", "DISTINCT",
            "REDUCED", "*", "?s", "?p", "?o", "$x", "<http://example.org/a>", "id:sonora",
            "rdfs:label", "a", '"x"', "'y'@en", '"""z"""', '"1"^^xsd:integer', "1", "-2.5e3",
            "true", "REGEX(", "STR(", "COUNT(", "SUM(", "CONCAT(", "&&", "||", "!", "=", "!=",
            "<", ">", "+", "-", "/", "|", "^", "INSERT DATA", "DELETE WHERE", "LOAD", "CLEAR",
            "PREFIX x: <http://x/>", "BASE <http://b/>", "#", "\n", "\\u0053ERVICE", "_:b",
            "[]", "[ ?p ?o ]", "()", "EXISTS", "NOT EXISTS", "IN", "NOT IN", "IF(", "COALESCE("]

token_soup = st.lists(st.sampled_from(KEYWORDS), min_size=1, max_size=40).map(" ".join)


@st.composite
def nested(draw: st.DrawFn) -> str:
    """Deeply nested groups, OPTIONALs, sub-selects or expressions; sometimes with the word
    'service' in a comment, which sends the query through the SERVICE guard's parser."""
    depth = draw(st.integers(1, 3000))
    shape = draw(st.sampled_from(["group", "optional", "subselect", "expr", "union"]))
    if shape == "group":
        body = "{" * depth + " ?s ?p ?o " + "}" * depth
    elif shape == "optional":
        body = "{ ?s ?p ?o " + "OPTIONAL { ?s ?p ?o " * depth + "}" * depth + " }"
    elif shape == "subselect":
        body = "{ " + "{ SELECT * WHERE " * depth + "{ ?s ?p ?o }" + " }" * depth + " }"
    elif shape == "union":
        body = "{ " + " UNION ".join(["{ ?s ?p ?o }"] * depth) + " }"
    else:
        body = "{ ?s ?p ?o FILTER(" + "(" * depth + "?o" + ")" * depth + ") }"
    comment = draw(st.sampled_from(["", "# service\n", "# SERVICE <http://x/>\n"]))
    return f"{comment}SELECT * WHERE {body} LIMIT 1"


@st.composite
def huge_literal(draw: st.DrawFn) -> str:
    """A string literal of up to about twice MAX_REQUEST_BYTES (the larger ones must be 413)."""
    size = draw(st.integers(0, 2 * MAX_REQUEST_BYTES))
    char = draw(st.sampled_from(["a", "é", "\u4e2d", "\\\\", "\U0001f600"]))
    lit = char * (size // max(1, len(char.encode())))
    return f'SELECT * WHERE {{ ?s ?p ?o FILTER(STR(?o) = "{lit}") }} LIMIT 1'


query_text = st.one_of(st.text(max_size=300), token_soup, nested(), huge_literal())


@PROPERTY
@given(query=query_text, method=st.sampled_from(["GET", "POST-form", "POST-direct"]))
@example(query="# service\nSELECT * WHERE " + "{" * 2000 + " ?s ?p ?o " + "}" * 2000,
         method="GET")
@example(query="", method="GET")
@example(query="   ", method="POST-direct")
@example(query="INSERT DATA { <a:b> <a:b> <a:b> }", method="POST-form")
def test_any_query_text(hostile_app: Flask, query: str, method: str) -> None:
    client = hostile_app.test_client()
    if method == "GET":
        resp = client.get("/sparql", query_string={"query": query},
                          headers={"Accept": JSON_RESULTS})
    elif method == "POST-form":
        resp = client.post("/sparql", data={"query": query}, headers={"Accept": JSON_RESULTS})
    else:
        resp = client.post("/sparql", data=query.encode("utf-8"),
                           content_type="application/sparql-query",
                           headers={"Accept": JSON_RESULTS})
    check_answer(resp)


@PROPERTY
@given(raw=st.binary(max_size=400), where=st.sampled_from(["query", "body", "form"]))
@example(raw=b"\xff\xfeSELECT", where="query")
@example(raw=b"SELECT * WHERE { ?s ?p \"\x00\" }", where="body")
@example(raw=b"\xc3(", where="form")
def test_random_bytes(hostile_app: Flask, raw: bytes, where: str) -> None:
    client = hostile_app.test_client()
    encoded = urllib.parse.quote_from_bytes(raw)
    if where == "query":
        resp = client.get("/sparql?query=" + encoded, headers={"Accept": JSON_RESULTS})
    elif where == "form":
        resp = client.post("/sparql", data=b"query=" + encoded.encode(),
                           content_type="application/x-www-form-urlencoded",
                           headers={"Accept": JSON_RESULTS})
    else:
        resp = client.post("/sparql", data=raw, content_type="application/sparql-query",
                           headers={"Accept": JSON_RESULTS})
    check_answer(resp)


MEDIA = ["application/sparql-results+json", "application/sparql-results+xml", "text/csv",
         "text/tab-separated-values", "application/json", "text/turtle", "application/n-triples",
         "application/rdf+xml", "application/ld+json", "text/html", "*/*", "text/*",
         "application/*", "image/png", "", ";", ",", "*", "/", "text/html;q=abc", "*/*;q=-1",
         "application/json;q=1.5", "text/csv;charset=utf-8", "a/b;c=d;e", "\x7f", "é/ü"]
accept = st.one_of(
    st.lists(st.tuples(st.sampled_from(MEDIA), st.sampled_from(["", ";q=0", ";q=0.5", ";q=1",
                                                                ";q=x", ";level=1"])),
             max_size=5).map(lambda items: ", ".join(m + q for m, q in items)),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80))
VALID = "SELECT ?s WHERE { ?s ?p ?o } LIMIT 3"
PARAMS = ["query", "update", "default-graph-uri", "named-graph-uri", "using-graph-uri",
          "using-named-graph-uri", "format", "citations", "page", "x"]
param_value = st.one_of(
    st.sampled_from([VALID, "ASK {}", "json", "xml", "csv", "tsv", "turtle", "1", "true", "",
                     "http://example.org/g", "not an iri", "https://w3id.org/fentanyl-kg/id/",
                     "DESCRIBE <https://w3id.org/fentanyl-kg/id/sonora>",
                     "CONSTRUCT WHERE { ?s ?p ?o } ", "INSERT DATA {}"]),
    st.text(max_size=30))
CONTENT_TYPES = ["application/x-www-form-urlencoded", "application/sparql-query",
                 "application/sparql-query; charset=latin-1", "application/sparql-update",
                 "multipart/form-data; boundary=x", "text/plain", "application/json", "",
                 "application/x-www-form-urlencoded; charset=utf-16", "*/*", ";;", "a/b; c"]


@PROPERTY
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
       accept_header=accept,
       content_type=st.sampled_from(CONTENT_TYPES),
       params=st.lists(st.tuples(st.sampled_from(PARAMS), param_value), max_size=6),
       body=st.one_of(st.just(b""), st.just(VALID.encode()), st.binary(max_size=100)))
@example(method="HEAD", accept_header="", content_type="", params=[("query", VALID)], body=b"")
@example(method="GET", accept_header="text/html;q=abc", content_type="", params=[], body=b"")
@example(method="POST", accept_header=JSON_RESULTS, content_type="multipart/form-data; boundary=x",
         params=[], body=b"--x\r\nContent-Disposition: form-data; name=query\r\n\r\nASK {}\r\n")
def test_any_request_shape(hostile_app: Flask, method: str, accept_header: str,
                           content_type: str, params: list[tuple[str, str]],
                           body: bytes) -> None:
    client = hostile_app.test_client()
    headers = {"Accept": accept_header} if accept_header else {}
    resp = client.open("/sparql?" + urllib.parse.urlencode(params), method=method,
                       data=body if method not in ("GET", "HEAD") else None,
                       content_type=content_type or None, headers=headers)
    check_answer(resp, method)


# -- valid queries answer ----------------------------------------------------------------------
VARIABLES = st.sampled_from(["?s", "?p", "?o", "?x", "?label", "?_1", "?é"])
IRIS = st.sampled_from(["id:sonora", "id:mexico", "rdfs:label", "fkg:locatedIn", "a",
                        "<http://example.org/nothing>", "<https://w3id.org/fentanyl-kg/id/>"])


def sparql_string(text: str) -> str:
    """A SPARQL string literal holding `text` exactly."""
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("\r", "\\r"))
    return f'"{escaped}"'


@st.composite
def valid_query(draw: st.DrawFn) -> tuple[str, str]:
    """A valid SELECT or ASK over the fixture, with its kind."""
    s = draw(st.one_of(VARIABLES, IRIS.filter(lambda t: t != "a")))  # `a` is only a predicate
    p = draw(st.one_of(VARIABLES, IRIS))
    o = draw(st.one_of(VARIABLES, IRIS.filter(lambda t: t != "a"),
                       st.text(max_size=40).map(sparql_string),
                       st.integers(-10**12, 10**12).map(str)))
    pattern = f"{s} {p} {o} ."
    if draw(st.booleans()):
        v = draw(VARIABLES)
        pattern += f" OPTIONAL {{ {v} rdfs:label ?anyLabel }}"
    if draw(st.booleans()):
        needle = sparql_string(draw(st.text(max_size=20)))
        pattern += f" FILTER(!isLiteral({s}) || CONTAINS(STR({s}), {needle}))"
    if draw(st.booleans()):
        return PREFIXES + f"ASK {{ {pattern} }}", "ask"
    variables = sorted({t for t in (s, p, o) if t.startswith("?")})
    projection = " ".join(variables) if variables and draw(st.booleans()) else "*"
    distinct = draw(st.sampled_from(["", "DISTINCT ", "REDUCED "]))
    order = f" ORDER BY {variables[0]}" if variables and draw(st.booleans()) else ""
    limit = draw(st.integers(0, 50))
    if projection == "*" and not variables:
        projection = "(1 AS ?one)"
    return (PREFIXES + f"SELECT {distinct}{projection} WHERE {{ {pattern} }}{order} "
            f"LIMIT {limit}", "select")


@PROPERTY
@given(case=valid_query(), accept_header=st.sampled_from([JSON_RESULTS, XML_RESULTS]),
       method=st.sampled_from(["GET", "POST-form", "POST-direct"]))
@example(case=(PREFIXES + "SELECT ?p ?o WHERE { id:sonora ?p ?o }", "select"),
         accept_header=JSON_RESULTS, method="GET")
@example(case=(PREFIXES + 'ASK { ?s rdfs:label "Sonora"@en }', "ask"),
         accept_header=XML_RESULTS, method="POST-direct")
def test_valid_queries_answer_200(hostile_app: Flask, case: tuple[str, str],
                                  accept_header: str, method: str) -> None:
    query, kind = case
    client = hostile_app.test_client()
    if method == "GET":
        resp = client.get("/sparql", query_string={"query": query},
                          headers={"Accept": accept_header})
    elif method == "POST-form":
        resp = client.post("/sparql", data={"query": query}, headers={"Accept": accept_header})
    else:
        resp = client.post("/sparql", data=query.encode(), content_type="application/sparql-query",
                           headers={"Accept": accept_header})
    assert resp.status_code == 200, (query, resp.get_data()[:500])
    assert resp.mimetype == accept_header
    if accept_header == JSON_RESULTS:
        data = json.loads(resp.get_data())
        assert ("boolean" in data) if kind == "ask" else isinstance(data["results"]["bindings"],
                                                                    list)
    else:
        root = ET.fromstring(resp.get_data())
        ns = "{http://www.w3.org/2005/sparql-results#}"
        assert root.tag == ns + "sparql"
        assert root.find(ns + ("boolean" if kind == "ask" else "results")) is not None
