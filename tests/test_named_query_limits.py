"""Named queries: the truncation flag of /query/<name> at MAX_ROWS, and parameters of the
literal kind, which named.bind binds as literals that can never change the query's text (no
bundled query has one yet, so two are defined here and run as /query/<name> runs them)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pyoxigraph as ox
import pytest
from flask import Flask
from web_support import WEB_RELEASE, close_app, make_app

from fentanyl_kg import bundled
from fentanyl_kg.store import load_store, open_release
from fentanyl_kg.web import named

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


@pytest.fixture(scope="module")
def fixture_store() -> ox.Store:
    """The web fixture release in a real store, as named queries run on it."""
    release = open_release(WEB_RELEASE)
    assert release is not None
    return load_store(release)


def bound(st: ox.Store, query: bundled.NamedQuery, **args: str) -> list[dict[str, Any]]:
    """The rows of `query` with `args` bound the way /query/<name> binds them."""
    return named.run(st, query, named.bind(st, query, args), 100).rows


XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


@pytest.mark.parametrize("value", [
    "sonora", "id:sonora", "<https://w3id.org/fentanyl-kg/id/sonora>",
    "https://w3id.org/fentanyl-kg/id/sonora", "rdfs:label", "_:b0", '"quoted"@en', "42",
    "true", "?other"])
def test_a_literal_parameter_is_bound_as_a_plain_literal(fixture_store: ox.Store,
                                                         value: str) -> None:
    [row] = bound(fixture_store, ECHO, text=value)
    assert row["text"] == ox.Literal(value)
    assert (row["literal"].value, row["iri"].value) == ("true", "false")
    assert row["type"] == ox.NamedNode(XSD_STRING)


def test_a_literal_parameter_selects_by_its_text(fixture_store: ox.Store) -> None:
    rows = bound(fixture_store, LABELLED, label="Sonora")
    assert {r["s"].value for r in rows} == {"https://w3id.org/fentanyl-kg/id/sonora"}


@pytest.mark.parametrize("attack", [
    '" ) } UNION { ?s ?p ?label } #',
    "Sonora\" || true || \"",
    "x') } ; DROP ALL ; SELECT * { ('",
    "Sonora\n} UNION { ?s ?p ?o }",
    "\\u0022) } UNION { ?s ?p ?label } #",
    "Sonora\" . ?s ?p ?label . FILTER(\"1\" = \"1"])
def test_injection_in_a_literal_parameter_does_not_change_the_query(fixture_store: ox.Store,
                                                                    attack: str) -> None:
    assert bound(fixture_store, LABELLED, label=attack) == []  # no label has that text
    assert bound(fixture_store, ECHO, text=attack)[0]["text"] == ox.Literal(attack)
