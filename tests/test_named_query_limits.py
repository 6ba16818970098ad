"""Named queries at /query/<name>: the truncation flag at MAX_ROWS, and parameters of the
literal kind, which are bound as literals and can never change the query's text."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from web_support import close_app, make_app

from fentanyl_kg import bundled

QUERY = "places_within"  # answers more than a handful of rows on the web fixture


@pytest.fixture(scope="module")
def full_rows() -> int:
    """How many rows the query has when nothing cuts it."""
    app = make_app()
    try:
        data = app.test_client().get(f"/query/{QUERY}.json").get_json()
    finally:
        close_app(app)
    assert "truncated" not in data
    n = len(data["results"]["bindings"])
    assert n >= 3, "the fixture needs a query with a few rows"
    return n


def fetch(app: Flask, suffix: str) -> tuple[int, str | None, bytes, dict | None]:  # type: ignore[type-arg]
    resp = app.test_client().get(f"/query/{QUERY}{suffix}",
                                 headers={"Accept": "text/html"} if not suffix else {})
    assert resp.status_code == 200, resp.get_data()[:300]
    data = resp.get_json() if suffix == ".json" else None
    return resp.status_code, resp.headers.get("Fentanyl-KG-Truncated"), resp.get_data(), data


@pytest.mark.parametrize("cut", [1, 2])
def test_a_result_past_max_rows_says_truncated(full_rows: int, cut: int) -> None:
    app = make_app(MAX_ROWS=full_rows - cut)
    try:
        _, _, _, data = fetch(app, ".json")
        assert data is not None and data["truncated"] is True
        assert len(data["results"]["bindings"]) == full_rows - cut
        _, header, body, _ = fetch(app, ".csv")
        assert header == "true"
        assert len(list(csv.reader(io.StringIO(body.decode())))) == 1 + full_rows - cut
        _, _, page, _ = fetch(app, "")
        assert b"cut off at the row limit" in page
    finally:
        close_app(app)


def test_a_result_of_exactly_max_rows_is_not_truncated(full_rows: int) -> None:
    app = make_app(MAX_ROWS=full_rows)
    try:
        _, _, _, data = fetch(app, ".json")
        assert data is not None and "truncated" not in data
        assert len(data["results"]["bindings"]) == full_rows
        _, header, _, _ = fetch(app, ".csv")
        assert header == "false"
        _, _, page, _ = fetch(app, "")
        assert b"cut off at the row limit" not in page
    finally:
        close_app(app)


@pytest.mark.xfail(strict=True, reason="the JSON twin of a named query sends no "
                   "Fentanyl-KG-Truncated header (only the CSV does); route to the pages owner")
def test_the_json_twin_also_says_truncated_in_its_header(full_rows: int) -> None:
    app = make_app(MAX_ROWS=full_rows - 1)
    try:
        _, header, _, _ = fetch(app, ".json")
        assert header == "true"
    finally:
        close_app(app)


# -- literal parameters ----------------------------------------------------------------------
ECHO = bundled.NamedQuery(
    name="echo_text", title="Echo a text", description="Whether the bound value is a literal.",
    text="# title: Echo a text\n# description: test\n# param: text (literal) — any text\n"
         "SELECT ?text (isLiteral(?text) AS ?literal) (isIRI(?text) AS ?iri) "
         "(DATATYPE(?text) AS ?type) WHERE { }\n",
    params=(bundled.Param("text", "literal", "any text"),))
LABELLED = bundled.NamedQuery(
    name="labelled", title="Things with a label", description="Subjects with a given label.",
    text="# title: Things with a label\n# description: test\n# param: label (literal) — a label\n"
         "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
         "SELECT ?s ?label WHERE { ?s rdfs:label ?l FILTER(STR(?l) = STR(?label)) }\n",
    params=(bundled.Param("label", "literal", "a label"),))


@pytest.fixture()
def literal_app(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The fixture app with two extra named queries whose parameter is of the literal kind."""
    real = bundled.queries
    monkeypatch.setattr(bundled, "queries", lambda: {**real(), ECHO.name: ECHO,
                                                     LABELLED.name: LABELLED})
    return app


def bound(app: Flask, name: str, **args: str) -> list[dict[str, dict[str, str]]]:
    resp = app.test_client().get(f"/query/{name}.json", query_string=args)
    assert resp.status_code == 200, resp.get_data()[:300]
    return resp.get_json()["results"]["bindings"]  # type: ignore[no-any-return]


XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


@pytest.mark.parametrize("value", [
    "sonora", "id:sonora", "<https://w3id.org/fentanyl-kg/id/sonora>",
    "https://w3id.org/fentanyl-kg/id/sonora", "rdfs:label", "_:b0", '"quoted"@en', "42",
    "true", "?other"])
def test_a_literal_parameter_is_bound_as_a_plain_literal(literal_app: Flask,
                                                         value: str) -> None:
    rows = bound(literal_app, "echo_text", text=value)
    assert rows == [{"text": {"type": "literal", "value": value},
                     "literal": {"type": "literal", "value": "true",
                                 "datatype": "http://www.w3.org/2001/XMLSchema#boolean"},
                     "iri": {"type": "literal", "value": "false",
                             "datatype": "http://www.w3.org/2001/XMLSchema#boolean"},
                     "type": {"type": "uri", "value": XSD_STRING}}]


def test_a_literal_parameter_selects_by_its_text(literal_app: Flask) -> None:
    rows = bound(literal_app, "labelled", label="Sonora")
    assert {r["s"]["value"] for r in rows} == {"https://w3id.org/fentanyl-kg/id/sonora"}


@pytest.mark.parametrize("attack", [
    '" ) } UNION { ?s ?p ?label } #',
    "Sonora\" || true || \"",
    "x') } ; DROP ALL ; SELECT * { ('",
    "Sonora\n} UNION { ?s ?p ?o }",
    "\\u0022) } UNION { ?s ?p ?label } #",
    "Sonora\" . ?s ?p ?label . FILTER(\"1\" = \"1"])
def test_injection_in_a_literal_parameter_does_not_change_the_query(literal_app: Flask,
                                                                    attack: str) -> None:
    assert bound(literal_app, "labelled", label=attack) == []  # no label has that text
    assert bound(literal_app, "echo_text", text=attack)[0]["text"] == {"type": "literal",
                                                                       "value": attack}
