"""The query guard (query/guard.py, query/lexer.py): SERVICE found by tokens, never by a parse,
so no text can crash it; deep nesting refused before pyoxigraph's parser can crash on it."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from fentanyl_kg.errors import QueryError
from fentanyl_kg.namespaces import PREFIXES
from fentanyl_kg.query import guard
from fentanyl_kg.query.lexer import tokens

ALLOWED = "http://allowed.example/sparql"
ALLOW = frozenset({ALLOWED})
EVIL = "http://127.0.0.1:9/"


@pytest.mark.parametrize("query", [
    f"SELECT * {{ SERVICE <{ALLOWED}> {{ ?s ?p ?o }} }}",
    f"SELECT * {{ SERVICE SILENT <{ALLOWED}> {{ }} }}",
    "PREFIX e: <http://allowed.example/> SELECT * { SERVICE e:sparql { } }",
    "BASE <http://allowed.example/> SELECT * { SERVICE <sparql> { } }",
    f'SELECT ?service {{ BIND("SERVICE <{EVIL}>" AS ?service) }} # SERVICE <{EVIL}>',
    f"SELECT * {{ ?s ?p '''SERVICE <{EVIL}> {{}}''' }}",
    f'SELECT * {{ ?s ?p "x"@service . ?service ex:service <{EVIL}> }}',
    f"SELECT * {{ ?s <{EVIL}#SERVICE> ?o }}",
])
def test_allowed_or_not_a_service_at_all(query: str) -> None:
    guard.check_service(query, ALLOW, PREFIXES)


@pytest.mark.parametrize("query", [
    f"SELECT * {{ SERVICE <{EVIL}> {{ }} }}",
    f"SELECT * {{ service<{EVIL}>{{}} }}",
    f"SELECT * {{ SERVICESILENT<{EVIL}> {{}} }}",  # pyoxigraph needs no space after keywords
    f"PREFIX : <{EVIL}> SELECT * {{ SERVICE:x {{}} }}",
    f"PREFIX ex: <{EVIL}> SELECT * {{ SERVICEex:x {{}} }}",
    f"PREFIX silentx: <{ALLOWED}> PREFIX x: <{EVIL}> SELECT * {{ SERVICE silentx: {{}} }}",
    f"BASE <{EVIL}> SELECT * {{ SERVICE <sparql> {{}} }}",
    f"SELECT * {{ \\u0053ERVICE <{EVIL}> {{}} }}",
    f"SELECT * {{ SERVICE # a comment\n <{EVIL}> {{}} }}",
    f"SELECT * {{ ?s ?p ?o FILTER(?o<1)SERVICE<{EVIL}>{{}} }}",
    "SELECT * { SERVICE ?e { } }", "SELECT * { SERVICE $e { } }",
    "PREFIX p: <http://allowed.example/> SELECT * { SERVICE p:spa\\.rql {} }",
])
def test_every_spelling_of_a_foreign_service_is_refused(query: str) -> None:
    with pytest.raises(QueryError) as caught:
        guard.check_service(query, ALLOW, PREFIXES)
    assert caught.value.status == 403 and "SERVICE" in caught.value.message


def test_deep_nesting_is_refused_not_crashed() -> None:
    for text in ("SELECT * " + "{" * 100_000 + "}" * 100_000,
                 "# service\nASK { FILTER(" + "(" * 100_000 + "1" + ")" * 100_000 + ") }"):
        with pytest.raises(QueryError) as caught:
            guard.check_service(text, frozenset(), PREFIXES)
        assert caught.value.status == 400 and "nested" in caught.value.message
    guard.check_service("ASK " + "{" * 400 + "}" * 400, frozenset(), PREFIXES)


@pytest.mark.parametrize("text,update", [
    ("INSERT DATA { <x:s> <x:p> <x:o> }", True), ("# first\nclear all", True),
    ("PREFIX e: <http://e/>\nWITH <http://e/g> DELETE { ?s ?p ?o } WHERE { }", True),
    ("BASE <http://e/> LOAD <x>", True), ("SELECT * {", False), ("", False),
    ('SELECT ("INSERT" AS ?x) {', False),
])
def test_is_update(text: str, update: bool) -> None:
    assert guard.is_update(text) is update


SPARQLISH = st.lists(st.sampled_from(
    list("{}()[]<>\"'#?$:.;,\\ \n\tuU0123456789abcdefSERVICEsilentPREFIXBASE@^*+-/|")
    + ["SERVICE", "SILENT", "PREFIX", "BASE", "\\u0053", '"""', "'''", "<http://e/>"]),
    max_size=200)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=300), SPARQLISH.map("".join)))
def test_any_text_gives_a_query_error_or_nothing(text: str) -> None:
    """Whatever the text, the guard answers (maybe with a QueryError); it never crashes."""
    list(tokens(text))
    guard.is_update(text)
    try:
        guard.check_service(text, ALLOW, PREFIXES, "http://base.example/")
    except QueryError as exc:
        assert exc.status in (400, 403)


# -- through the endpoint -----------------------------------------------------------------
def test_service_in_a_comment_with_deep_nesting_is_a_400(client: FlaskClient) -> None:
    """It used to crash the worker in rdflib's parser ("may have run out of memory"); nesting
    like this without the word crashed pyoxigraph's parser in the worker."""
    for query in ["# service\nSELECT * " + "{" * 3000 + "}" * 3000,
                  "SELECT * " + "{" * 3000 + "}" * 3000]:
        resp = client.get("/sparql?" + urlencode({"query": query}))
        assert resp.status_code == 400, resp.data
        assert "nested more than 500" in resp.json["error"]
    assert client.get("/sparql?" + urlencode({"query": "ASK {}"})).json["boolean"] is True
