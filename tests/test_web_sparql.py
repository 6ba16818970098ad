"""The SPARQL 1.1 Protocol at /sparql through Flask's test client, on the hand-written release
tests/data/web_release (generated from tests/data/web_fixture.trig)."""

from __future__ import annotations

import csv
import gc
import gzip
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pyoxigraph as ox
import pytest
from flask import Flask
from flask.testing import FlaskClient
from web_support import (
    FKG,
    ID,
    SCRIPT,
    WEB_RELEASE,
    close_app,
    fixture_files,
    make_app,
    write_release,
)
from werkzeug.test import TestResponse

from fentanyl_kg.namespaces import ONTOLOGY_GRAPH, PROVENANCE_GRAPH
from fentanyl_kg.web import config, formats

JSON, XML = "application/sparql-results+json", "application/sparql-results+xml"
CSV, TSV = "text/csv", "text/tab-separated-values"
LABELS = "SELECT ?s ?label WHERE { ?s rdfs:label ?label } ORDER BY ?s ?label"
SONORA_CLAIM = ID + "claim/4d1f07b6a2e85c74"


@pytest.fixture(scope="module")
def small_app() -> Iterator[Flask]:
    """An app with tiny limits: 5 rows, 2,000-byte requests, one worker."""
    app = make_app(MAX_ROWS=5, MAX_REQUEST_BYTES=2000, QUERY_WORKERS=1)
    yield app
    close_app(app)


def get(client: FlaskClient, query: str, accept: str = JSON, **params: str) -> TestResponse:
    return client.get("/sparql?" + urlencode({"query": query, **params}),
                      headers={"Accept": accept})


def rows(resp: TestResponse) -> list[dict[str, str]]:
    data = resp.json
    assert data is not None
    return [{k: v["value"] for k, v in b.items()} for b in data["results"]["bindings"]]


def test_fixture_release_matches_trig() -> None:
    """dataset.nq and release.json are generated from web_fixture.trig and must stay in step.
    FKG_REGENERATE=1 rewrites them."""
    files = fixture_files()
    if os.environ.get("FKG_REGENERATE") == "1":
        write_release(WEB_RELEASE, files)
    for name in ("dataset.nq", "release.json"):
        assert (WEB_RELEASE / name).read_bytes() == files[name], f"regenerate {name}"


# -- the three operations and the dataset ---------------------------------------------------
def test_get_post_form_and_post_direct_agree(client: FlaskClient) -> None:
    by_get = get(client, LABELS)
    by_form = client.post("/sparql", data={"query": LABELS}, headers={"Accept": JSON})
    by_direct = client.post("/sparql", data=LABELS.encode(), headers={
        "Accept": JSON, "Content-Type": "application/sparql-query"})
    assert by_get.status_code == by_form.status_code == by_direct.status_code == 200
    assert by_get.json == by_form.json == by_direct.json
    assert {"s": ID + "sonora", "label": "Sonora"} in rows(by_get)


@pytest.mark.parametrize(("query", "expected"), [
    # asserted (a claim graph) and inferred triples are in the default graph
    ("ASK { id:sonora fkg:locatedIn id:mexico }", True),
    ("ASK { id:mariposa-poe fkg:locatedIn id:united-states }", True),
    # provenance and ontology are not, but GRAPH and FROM reach them
    ("ASK { ?claim a fkg:Claim }", False),
    (f"ASK {{ GRAPH <{PROVENANCE_GRAPH}> {{ ?claim a fkg:Claim }} }}", True),
    (f"ASK FROM <{PROVENANCE_GRAPH}> {{ ?claim a fkg:Claim }}", True),
    (f"ASK {{ GRAPH <{ONTOLOGY_GRAPH}> {{ fkg:Place a owl:Class }} }}", True),
    (f"ASK {{ GRAPH <{SONORA_CLAIM}> {{ id:sonora fkg:iso3166Code 'MX-SON' }} }}", True),
])
def test_default_graph_is_claims_plus_inferred(client: FlaskClient, query: str,
                                               expected: bool) -> None:
    resp = get(client, query)
    assert resp.status_code == 200, resp.json
    assert resp.json["boolean"] is expected


def test_protocol_dataset_replaces_the_default_one(client: FlaskClient) -> None:
    count = "SELECT (COUNT(DISTINCT ?c) AS ?n) { ?c a fkg:Claim }"
    resp = get(client, count, **{"default-graph-uri": str(PROVENANCE_GRAPH)})
    assert rows(resp) == [{"n": "17"}]
    resp = get(client, "SELECT DISTINCT ?g { GRAPH ?g { ?s ?p ?o } }",
               **{"named-graph-uri": SONORA_CLAIM})
    assert rows(resp) == [{"g": SONORA_CLAIM}]
    # only named graphs given: the default graph is empty
    resp = get(client, "ASK { ?s ?p ?o }", **{"named-graph-uri": SONORA_CLAIM})
    assert resp.json["boolean"] is False


def test_relative_iris_resolve_against_the_endpoint(client: FlaskClient) -> None:
    resp = get(client, "SELECT ?x { BIND(<thing> AS ?x) }")
    assert rows(resp) == [{"x": "http://localhost/thing"}]


# -- formats and content negotiation --------------------------------------------------------
@pytest.mark.parametrize(("accept", "media", "fmt"), [
    (JSON, JSON, ox.QueryResultsFormat.JSON),
    ("application/json", JSON, ox.QueryResultsFormat.JSON),
    (XML, XML, ox.QueryResultsFormat.XML),
    (CSV, CSV, None),
    (TSV, TSV, ox.QueryResultsFormat.TSV),
    ("*/*", JSON, ox.QueryResultsFormat.JSON),
])
def test_select_formats(client: FlaskClient, accept: str, media: str,
                        fmt: ox.QueryResultsFormat | None) -> None:
    resp = get(client, LABELS, accept=accept)
    assert resp.status_code == 200
    assert resp.mimetype == media
    if fmt is None:  # CSV is lossy, so pyoxigraph will not read it
        values = [(r["s"], r["label"]) for r in csv.DictReader(io.StringIO(resp.data.decode()))]
    else:
        parsed = ox.parse_query_results(resp.data, format=fmt)
        assert isinstance(parsed, ox.QuerySolutions)
        values = [(s["s"].value, s["label"].value) for s in parsed]
    assert (f"{ID}sonora", "Sonora") in values
    assert len(values) == len(rows(get(client, LABELS)))


def test_select_formats_keep_every_kind_of_term(client: FlaskClient) -> None:
    query = ('SELECT ?iri ?lang ?typed ?plain ?tab ?none WHERE { '
             'VALUES (?iri ?lang ?typed ?plain ?tab) { (id:sonora "Sonora"@es 5400.0 '
             '"a, \\"quoted\\" <b>" "a\\tb") } }')
    for fmt, accept in ((ox.QueryResultsFormat.JSON, JSON), (ox.QueryResultsFormat.XML, XML),
                        (ox.QueryResultsFormat.TSV, TSV)):
        parsed = list(ox.parse_query_results(get(client, query, accept).data, format=fmt))
        solution = parsed[0]
        assert solution["iri"] == ox.NamedNode(ID + "sonora")
        assert solution["lang"] == ox.Literal("Sonora", language="es")
        assert solution["typed"].datatype == ox.NamedNode(
            "http://www.w3.org/2001/XMLSchema#decimal")
        assert solution["plain"] == ox.Literal('a, "quoted" <b>')
        assert solution["tab"] == ox.Literal("a\tb")
        assert solution["none"] is None
    csv_text = get(client, query, CSV).data.decode()
    assert csv_text.splitlines()[0] == "iri,lang,typed,plain,tab,none"
    assert '"a, ""quoted"" <b>"' in csv_text


@pytest.mark.parametrize("accept", [JSON, XML, CSV, TSV])
def test_ask_formats(client: FlaskClient, accept: str) -> None:
    resp = get(client, "ASK { id:sonora a fkg:FirstLevelDivision }", accept=accept)
    assert resp.status_code == 200 and resp.mimetype == accept
    assert b"true" in resp.data
    if accept in (JSON, XML):
        fmt = ox.QueryResultsFormat.JSON if accept == JSON else ox.QueryResultsFormat.XML
        assert bool(ox.parse_query_results(resp.data, format=fmt)) is True


@pytest.mark.parametrize(("accept", "media", "fmt"), [
    ("text/turtle", "text/turtle", ox.RdfFormat.TURTLE),
    ("application/n-triples", "application/n-triples", ox.RdfFormat.N_TRIPLES),
    ("application/ld+json", "application/ld+json", ox.RdfFormat.JSON_LD),
    ("application/rdf+xml", "application/rdf+xml", ox.RdfFormat.RDF_XML),
    ("*/*", "text/turtle", ox.RdfFormat.TURTLE),
])
@pytest.mark.parametrize("query", ["CONSTRUCT WHERE { id:sonora ?p ?o }", "DESCRIBE id:sonora"])
def test_graph_formats(client: FlaskClient, accept: str, media: str, fmt: ox.RdfFormat,
                       query: str) -> None:
    resp = get(client, query, accept=accept)
    assert resp.status_code == 200, resp.data
    assert resp.mimetype == media
    triples = {q.triple for q in ox.parse(resp.data, format=fmt)}
    assert ox.Triple(ox.NamedNode(ID + "sonora"), ox.NamedNode(FKG + "iso3166Code"),
                     ox.Literal("MX-SON")) in triples


@pytest.mark.parametrize(("accept", "expected"), [
    (f"{CSV};q=0.5, {XML}", XML),
    (f"{JSON};q=0.1, {TSV};q=0.9", TSV),
    (f"{CSV}, {TSV}", CSV),
    (f"text/html;q=0.1, {TSV};q=0.2", TSV),
    (f"{JSON};q=0, */*;q=0.5", XML),
    ("text/*", XML),
])
def test_q_values(client: FlaskClient, accept: str, expected: str) -> None:
    assert get(client, LABELS, accept=accept).mimetype == expected


@pytest.mark.parametrize(("value", "query", "expected"), [
    ("csv", LABELS, CSV), ("tsv", LABELS, TSV), ("xml", LABELS, XML), ("json", LABELS, JSON),
    ("text/csv", LABELS, CSV), ("json", "DESCRIBE id:sonora", "application/ld+json"),
    ("xml", "DESCRIBE id:sonora", "application/rdf+xml"),
    ("rdf+xml", "DESCRIBE id:sonora", "application/rdf+xml"),
    ("turtle", "DESCRIBE id:sonora", "text/turtle"), ("n3", "DESCRIBE id:sonora", "text/turtle"),
    ("nt", "DESCRIBE id:sonora", "application/n-triples"),
    ("json-ld", "DESCRIBE id:sonora", "application/ld+json"),
])
def test_format_parameter_overrides_accept(client: FlaskClient, value: str, query: str,
                                           expected: str) -> None:
    resp = get(client, query, accept="application/x-nothing", format=value)
    assert resp.status_code == 200 and resp.mimetype == expected


@pytest.mark.parametrize(("query", "accept", "params"), [
    (LABELS, "image/png", {}),
    ("DESCRIBE id:sonora", "image/png", {}),
    ("DESCRIBE id:sonora", JSON, {"format": "csv"}),
    (LABELS, JSON, {"format": "yaml"}),
])
def test_406_when_no_acceptable_format(client: FlaskClient, query: str, accept: str,
                                       params: dict[str, str]) -> None:
    resp = get(client, query, accept=accept, **params)
    assert resp.status_code == 406
    assert set(resp.json) == {"error", "status"} and resp.json["status"] == 406


def test_negotiation_table_is_consistent() -> None:
    names = [f.name for f in formats.RESULTS + formats.GRAPHS]
    assert len(names) == len(set(names))
    assert all(f.media_type in f.accepts for f in formats.RESULTS + formats.GRAPHS)
    assert formats.negotiate("text/html,application/xhtml+xml,*/*;q=0.8", None).html
    assert not formats.negotiate("*/*", None).html


# -- service description, VoID, health ------------------------------------------------------
def test_service_description(client: FlaskClient) -> None:
    resp = client.get("/sparql", headers={"Accept": "text/turtle"})
    assert resp.status_code == 200 and resp.mimetype == "text/turtle"
    triples = {q.triple for q in ox.parse(resp.data, format=ox.RdfFormat.TURTLE)}
    sd = "http://www.w3.org/ns/sparql-service-description#"
    endpoint = ox.NamedNode("http://localhost/sparql")
    assert ox.Triple(endpoint, ox.NamedNode(sd + "endpoint"), endpoint) in triples
    assert ox.Triple(endpoint, ox.NamedNode(sd + "supportedLanguage"),
                     ox.NamedNode(sd + "SPARQL11Query")) in triples
    result_formats = {t.object.value for t in triples if t.predicate.value == sd + "resultFormat"}
    assert result_formats == {f.w3c for f in formats.RESULTS + formats.GRAPHS}
    names = {t.object.value for t in triples if t.predicate.value == sd + "name"}
    assert str(PROVENANCE_GRAPH) in names and str(ONTOLOGY_GRAPH) in names
    text = resp.data.decode()
    assert "union of all claim graphs" in text and '\\"truncated\\"' in text
    assert "citations" in text
    jsonld = client.get("/sparql", headers={"Accept": "application/ld+json"})
    assert jsonld.mimetype == "application/ld+json" and json.loads(jsonld.data)


def test_browsers_are_sent_to_the_query_page(client: FlaskClient) -> None:
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    resp = client.get("/sparql", headers={"Accept": browser})
    assert resp.status_code == 303 and resp.headers["Location"] == "/"
    resp = get(client, "ASK {}", accept=browser)
    assert resp.status_code == 303
    location = urlsplit(resp.headers["Location"])
    assert location.path == "/" and parse_qs(location.query) == {"query": ["ASK {}"]}
    assert get(client, "ASK {}", accept=browser, format="json").status_code == 200


def test_void(client: FlaskClient) -> None:
    resp = client.get("/.well-known/void")
    assert resp.status_code == 200 and resp.mimetype == "text/turtle"
    triples = {q.triple for q in ox.parse(resp.data, format=ox.RdfFormat.TURTLE)}
    assert ox.Triple(ox.NamedNode("https://w3id.org/fentanyl-kg/dataset"),
                     ox.NamedNode("http://rdfs.org/ns/void#sparqlEndpoint"),
                     ox.NamedNode("http://localhost/sparql")) in triples
    assert client.get("/.well-known/void",
                      headers={"Accept": "application/n-triples"}).mimetype \
        == "application/n-triples"


def test_healthz(client: FlaskClient, app: Flask) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json["status"] == "ok"
    assert resp.json["version"] == app.extensions["fentanyl_kg"].version
    assert resp.json["alive"] == app.extensions["fentanyl_kg"].settings.QUERY_WORKERS


# -- limits ---------------------------------------------------------------------------------
def test_row_cap_says_the_result_was_truncated(small_app: Flask) -> None:
    client = small_app.test_client()
    resp = get(client, LABELS)
    assert len(resp.json["results"]["bindings"]) == 5
    assert resp.json["truncated"] is True
    assert resp.headers["Fentanyl-KG-Truncated"] == "true"
    xml = get(client, LABELS, accept=XML)
    assert b"truncated" in xml.data
    assert len(list(ox.parse_query_results(xml.data, format=ox.QueryResultsFormat.XML))) == 5
    ttl = get(client, "CONSTRUCT WHERE { ?s ?p ?o }", accept="text/turtle")
    assert ttl.headers["Fentanyl-KG-Truncated"] == "true"
    assert ttl.data.startswith(b"# truncated")
    assert len(list(ox.parse(ttl.data, format=ox.RdfFormat.TURTLE))) == 5
    small = get(client, "SELECT ?l { id:sonora rdfs:label ?l FILTER(lang(?l) = 'en') }")
    assert "truncated" not in small.json
    assert small.headers["Fentanyl-KG-Truncated"] == "false"


def test_request_size_limit(small_app: Flask) -> None:
    client = small_app.test_client()
    big = "ASK { " + "?s ?p ?o . " * 300 + "}"
    assert client.post("/sparql", data=big.encode(), headers={
        "Content-Type": "application/sparql-query"}).status_code == 413
    assert client.post("/sparql", data={"query": big}).status_code == 413
    resp = get(client, big)
    assert resp.status_code == 413
    assert set(resp.json) == {"error", "status"}


# -- errors ---------------------------------------------------------------------------------
def test_syntax_error_gives_parser_message_and_position(client: FlaskClient) -> None:
    resp = get(client, "SELECT * WHERE { ?s ?p ?o } LIMT 3")
    assert resp.status_code == 400
    assert resp.json == {"error": resp.json["error"], "status": 400}
    assert "error at 1:" in resp.json["error"] and "LIMIT" not in resp.json["error"][:10]
    assert "Traceback" not in resp.json["error"]


@pytest.mark.parametrize(("method", "kwargs", "status"), [
    ("get", {"query_string": "query=ASK%7B%7D&query=ASK%7B%7D"}, 400),
    ("get", {"query_string": "query="}, 400),
    ("get", {"query_string": "query=ASK%7B%7D&default-graph-uri=not%20an%20iri"}, 400),
    ("post", {"data": b"ASK {}", "content_type": "text/plain"}, 415),
    ("post", {"data": b"ASK {}"}, 415),
    ("post", {"data": "ASK {}".encode("utf-16"),
              "content_type": "application/sparql-query; charset=UTF-16"}, 415),
    ("post", {"data": b"ASK { \xff }", "content_type": "application/sparql-query"}, 400),
    ("post", {"data": {"format": "json"}}, 400),
    ("post", {"data": b"ASK {}", "content_type": "application/sparql-query",
              "query_string": "query=ASK%7B%7D"}, 400),
    ("put", {"query_string": "query=ASK%7B%7D"}, 405),
    ("delete", {}, 405),
])
def test_client_mistakes_get_4xx_in_one_shape(client: FlaskClient, method: str,
                                              kwargs: dict[str, object], status: int) -> None:
    resp = getattr(client, method)("/sparql", **kwargs)
    assert resp.status_code == status, resp.data
    assert resp.json == {"error": resp.json["error"], "status": status}
    assert resp.headers["Cache-Control"] == "no-store"
    if status == 405:
        assert set(resp.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_unknown_setting_stops_startup() -> None:
    with pytest.raises(config.StartupError, match="MAX_ROW"):
        config.load({"MAX_ROW": 3}, environ={})
    with pytest.raises(config.StartupError, match="FENTANYL_KG_TIMEOUT"):
        config.load({}, environ={"FENTANYL_KG_TIMEOUT": "3"})
    with pytest.raises(config.StartupError, match="QUERY_TIMEOUT"):
        config.load({"QUERY_TIMEOUT": "soon"}, environ={})
    settings = config.load({"MAX_ROWS": "7"}, environ={"FENTANYL_KG_SERVICE_ALLOWLIST":
                                                       "http://a/sparql, http://b/sparql"})
    assert settings.MAX_ROWS == 7
    assert settings.SERVICE_ALLOWLIST == ("http://a/sparql", "http://b/sparql")


def test_missing_release_stops_startup(tmp_path: Path) -> None:
    with pytest.raises(config.StartupError, match="no release"):
        make_app(release_dir=tmp_path)


# -- HTTP niceties --------------------------------------------------------------------------
def test_cors(client: FlaskClient) -> None:
    assert get(client, "ASK {}").headers["Access-Control-Allow-Origin"] == "*"
    pre = client.options("/sparql", headers={"Origin": "https://example.org",
                                             "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 200
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in pre.headers["Access-Control-Allow-Headers"]
    assert get(client, "ASK {", accept=JSON).headers["Access-Control-Allow-Origin"] == "*"


def test_gzip(client: FlaskClient) -> None:
    plain = get(client, LABELS)
    zipped = client.get("/sparql?" + urlencode({"query": LABELS}),
                        headers={"Accept": JSON, "Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert gzip.decompress(zipped.data) == plain.data
    assert len(zipped.data) < len(plain.data)


def test_etag_and_cache_control_follow_the_release(client: FlaskClient, app: Flask) -> None:
    resp = get(client, LABELS)
    etag = resp.headers["ETag"]
    assert etag.startswith('W/"' + app.extensions["fentanyl_kg"].version)
    assert "max-age" in resp.headers["Cache-Control"]
    again = client.get("/sparql?" + urlencode({"query": LABELS}),
                       headers={"Accept": JSON, "If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag
    other = get(client, LABELS, accept=CSV)
    assert other.headers["ETag"] != etag
    post = client.post("/sparql", data={"query": LABELS})
    assert "ETag" not in post.headers and post.headers["Cache-Control"] == "no-store"


# -- citations ------------------------------------------------------------------------------
def test_citations_extra_key(client: FlaskClient, app: Flask) -> None:
    """/sparql has a query worker compute web.cite.row_citations (W2's, tested in
    test_cite.py) for the JSON rows and adds it as the top-level key `citations`, one list per
    row: the same lists as the function gives on a store of the same release."""
    from fentanyl_kg.store import load_store
    from fentanyl_kg.web.cite import row_citations

    query = "SELECT ?l { id:sonora rdfs:label ?l }"
    data = client.post("/sparql", data={"query": query, "citations": "1"}).json
    store = load_store(app.extensions["fentanyl_kg"].release)
    expected = row_citations(store, query, data["results"]["bindings"])
    assert len(data["citations"]) == 3 and data["citations"] == expected
    assert all(SONORA_CLAIM in {c["claim"] for c in row} for row in data["citations"])
    assert "citations" not in get(client, query).json
    bad = get(client, LABELS, accept=CSV, citations="1")
    assert bad.status_code == 400 and "citations" in bad.json["error"]
    ask = get(client, "ASK {}", citations="1")
    assert ask.status_code == 200 and "citations" not in ask.json


def test_literals_with_markup_stay_data(client: FlaskClient) -> None:
    query = "SELECT ?l { id:harm-us-deaths-2024 rdfs:label ?l }"
    assert SCRIPT in rows(get(client, query))[0]["l"]
    xml = get(client, query, accept=XML).data.decode()
    assert SCRIPT not in xml and "&lt;script&gt;alert(1)&lt;/script&gt;" in xml


def test_store_on_disk(tmp_path: Path) -> None:
    """With STORE_PATH the stores live on disk: written once per release, then reused."""
    for _ in range(2):
        app = make_app(STORE_PATH=tmp_path / "store", QUERY_WORKERS=1)
        version = app.extensions["fentanyl_kg"].version
        try:
            resp = get(app.test_client(), "ASK { id:mariposa-poe fkg:locatedIn id:arizona }")
            assert resp.status_code == 200 and resp.json["boolean"] is True
        finally:
            close_app(app)
        del app, resp
        gc.collect()  # pyoxigraph lets go of the RocksDB lock when the Store is collected
        assert (tmp_path / "store-sparql.version").read_text().strip() == version
