"""The Linked Data pages as real RDF clients read them: one negotiation table with /sparql,
quads visible in the default graph (Comunica), JSON-LD preferred and compact with a published
context (jsonld.js, PyLD), media-type parameters, the graph IRIs' RDF twins, and one Link
alternate that PyLD's own document loader follows, over a real waitress server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from urllib.parse import urlencode

import pyoxigraph as ox
import pytest
from flask import Flask
from flask.testing import FlaskClient
from pyld import jsonld as pyld
from rdflib import Graph
from rdflib.compare import isomorphic
from web_support import ID, close_app, make_app

from fentanyl_kg.namespaces import PREFIXES

# rdflib 7's JSON-LD parser still builds a ConjunctiveGraph inside, deprecated in rdflib 7
pytestmark = pytest.mark.filterwarnings(
    "ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
COMUNICA = "application/n-quads,application/trig;q=0.95,application/ld+json;q=0.9,text/turtle;q=0.6"
TURTLE, JSONLD, NT = "text/turtle", "application/ld+json", "application/n-triples"
INFERRED = "https://w3id.org/fentanyl-kg/graph/inferred"


def triples_of(data: bytes, fmt: ox.RdfFormat) -> set[ox.Triple]:
    return {q.triple for q in ox.parse(data, format=fmt)}


def default_graph(data: bytes, fmt: ox.RdfFormat) -> set[ox.Triple]:
    """The triples a client sees when it queries the document's default graph."""
    store = ox.Store()
    store.extend(ox.parse(data, format=fmt))
    return {ox.Triple(s["s"], s["p"], s["o"])  # type: ignore[arg-type]
            for s in store.query("SELECT * { ?s ?p ?o }")}  # type: ignore[union-attr]


# -- dataset formats -----------------------------------------------------------------------
@pytest.mark.parametrize(("how", "fmt"), [({"Accept": COMUNICA}, ox.RdfFormat.N_QUADS),
                                          (".nq", ox.RdfFormat.N_QUADS),
                                          (".trig", ox.RdfFormat.TRIG)])
def test_quads_put_the_page_in_the_default_graph(client: FlaskClient, how: object,
                                                 fmt: ox.RdfFormat) -> None:
    if isinstance(how, dict):
        resp = client.get("/id/sonora", headers=how)
        assert resp.mimetype == "application/n-quads"
    else:
        resp = client.get(f"/id/sonora{how}")
    turtle = triples_of(client.get("/id/sonora.ttl").data, ox.RdfFormat.TURTLE)
    assert turtle and default_graph(resp.data, fmt) == turtle
    named = [q for q in ox.parse(resp.data, format=fmt) if isinstance(q.graph_name, ox.NamedNode)]
    assert any(q.graph_name.value.startswith(ID + "claim/") for q in named)  # claims kept
    assert {q.triple for q in named} == turtle


# -- negotiation: one table, JSON-LD preferred, parameters ------------------------------------
@pytest.mark.parametrize(("accept", "expected"), [
    ("application/ld+json, application/json", JSONLD),
    ("application/json, application/ld+json", JSONLD),
    ("application/json", "application/json"),
    ("application/json, application/ld+json;q=0.5", "application/json"),
    ('application/ld+json;profile="http://www.w3.org/ns/json-ld#expanded"', JSONLD),
    ('application/ld+json;profile="http://www.w3.org/ns/json-ld#compacted", '
     "application/json;q=0.9", JSONLD),
    ("text/turtle;charset=utf-8", TURTLE),
    ("application/n-triples; charset=utf-8", NT),
    ("text/n3", TURTLE), ("application/x-turtle", TURTLE),
    ("application/xml", "application/rdf+xml"), ("text/xml", "application/rdf+xml"),
    ("text/x-nquads", "application/n-quads"),
    ("*/*", "text/html"), ("", "text/html"),
])
@pytest.mark.parametrize("path", ["/id/sonora", "/ontology"])
def test_page_negotiation(client: FlaskClient, path: str, accept: str, expected: str) -> None:
    resp = client.get(path, headers={"Accept": accept} if accept else {})
    assert resp.status_code == 200 and resp.mimetype == expected


@pytest.mark.parametrize("accept", ["text/n3", "application/x-turtle", "text/turtle;charset=utf-8",
                                    "application/xml", "application/rdf+xml", NT, JSONLD])
def test_pages_and_sparql_share_one_table(client: FlaskClient, accept: str) -> None:
    page = client.get("/id/sonora", headers={"Accept": accept})
    described = client.get("/sparql?" + urlencode({"query": "DESCRIBE id:sonora"}),
                           headers={"Accept": accept})
    assert page.status_code == described.status_code == 200
    assert page.mimetype == described.mimetype


# -- JSON-LD ---------------------------------------------------------------------------------
def test_jsonld_is_compact_with_our_context(client: FlaskClient) -> None:
    doc = client.get("/id/sonora.jsonld").get_json()
    assert set(doc) == {"@context", "@graph"}
    assert doc["@context"]["fkg"] == PREFIXES["fkg"] and doc["@context"]["id"] == PREFIXES["id"]
    sonora = next(n for n in doc["@graph"] if n["@id"] == "id:sonora")
    assert "fkg:FirstLevelDivision" in sonora["@type"]
    assert "rdfs:label" in sonora
    published = client.get("/context.jsonld")
    assert published.mimetype == JSONLD
    assert published.get_json()["@context"] == PREFIXES
    assert doc["@context"].items() <= published.get_json()["@context"].items()


@pytest.mark.parametrize("path", ["/id/sonora", "/ontology"])
def test_jsonld_means_what_the_turtle_means(client: FlaskClient, path: str) -> None:
    turtle = Graph().parse(data=client.get(path + ".ttl").data, format="turtle")
    data = client.get(path + ".jsonld").data
    assert isomorphic(Graph().parse(data=data, format="json-ld"), turtle)  # rdflib
    nquads = pyld.to_rdf(json.loads(data), {"format": "application/n-quads"})
    assert isomorphic(Graph().parse(data=nquads, format="nt"), turtle)  # PyLD


def test_sparql_jsonld_is_compact_too(client: FlaskClient) -> None:
    query = "CONSTRUCT WHERE { id:sonora ?p ?o }"
    got = client.get("/sparql?" + urlencode({"query": query}), headers={"Accept": JSONLD})
    assert got.get_json()["@context"]["id"] == PREFIXES["id"]
    turtle = client.get("/sparql?" + urlencode({"query": query}), headers={"Accept": TURTLE})
    assert isomorphic(Graph().parse(data=got.data, format="json-ld"),
                      Graph().parse(data=turtle.data, format="turtle"))


def test_jsonld_writer_falls_back_when_it_cannot_compact() -> None:
    from fentanyl_kg.web import jsonld

    geo_uri = ox.Triple(ox.NamedNode(ID + "x"), ox.NamedNode(PREFIXES["fkg"] + "at"),
                        ox.NamedNode("geo:37.78,-122.41"))
    data = jsonld.serialize([geo_uri])
    assert triples_of(data, ox.RdfFormat.JSON_LD) == {geo_uri}


# -- the graph IRIs --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def paged_app() -> Iterator[Flask]:
    app = make_app(MAX_ROWS=4)
    yield app
    close_app(app)


def test_graph_iri_has_rdf_twins(client: FlaskClient) -> None:
    resp = client.get("/graph/inferred", headers={"Accept": TURTLE})
    assert resp.status_code == 200 and resp.mimetype == TURTLE
    graph = triples_of(resp.data, ox.RdfFormat.TURTLE)
    size = next(t.object.value for t in graph if t.subject == ox.NamedNode(INFERRED)
                and t.predicate.value.endswith("void#triples"))
    assert int(size) == client.get("/graph/inferred.json").get_json()["triples"] > 0
    assert client.get("/graph/provenance.nq").mimetype == "application/n-quads"
    assert client.get("/graph/ontology", headers={"Accept": COMUNICA}).status_code == 200


def test_graph_twins_are_paged(paged_app: Flask) -> None:
    client = paged_app.test_client()
    total = client.get("/graph/inferred.json").get_json()["triples"]
    seen: set[ox.Quad] = set()
    page = 1
    while True:
        resp = client.get(f"/graph/inferred.nq?page={page}")
        assert resp.status_code == 200
        quads = {q for q in ox.parse(resp.data, format=ox.RdfFormat.N_QUADS)
                 if q.graph_name == ox.NamedNode(INFERRED)}
        assert 0 < len(quads) <= 4
        seen |= quads
        if 'rel="next"' not in resp.headers["Link"]:
            break
        assert f"/graph/inferred.nq?page={page + 1}" in resp.headers["Link"]
        page += 1
    assert len(seen) == total and page == -(-total // 4)
    assert client.get(f"/graph/inferred.ttl?page={page + 1}").status_code == 404


# -- Link headers and real clients over HTTP -------------------------------------------------
def test_one_well_formed_alternate(client: FlaskClient) -> None:
    for path, target in (("/id/sonora", "/id/sonora.jsonld"), ("/id/sonora.ttl",
                                                                "/id/sonora.jsonld"),
                         ("/id/sonora.jsonld", "/id/sonora.ttl"), ("/sources", "/sources.json")):
        links = pyld.parse_link_header(client.get(path).headers["Link"])
        assert isinstance(links["alternate"], dict)  # one, which PyLD can read
        assert links["alternate"]["target"] == target


@pytest.fixture(scope="module")
def server(app: Flask) -> Iterator[str]:
    from waitress.server import create_server

    srv = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.effective_port}"  # type: ignore[union-attr]
    srv.close()
    thread.join(10)


@pytest.mark.parametrize("path", ["/id/sonora", "/id/sonora.jsonld", "/ontology"])
def test_pyld_document_loader_reads_pages(server: str, client: FlaskClient, path: str) -> None:
    loader = pyld.requests_document_loader(timeout=30)
    nquads = pyld.to_rdf(server + path, {"format": "application/n-quads",
                                         "documentLoader": loader})
    turtle = Graph().parse(data=client.get(path.removesuffix(".jsonld") + ".ttl").data,
                           format="turtle")
    assert isomorphic(Graph().parse(data=nquads, format="nt"), turtle)


def test_rdflib_dereferences_a_page(server: str, client: FlaskClient) -> None:
    turtle = Graph().parse(data=client.get("/id/sonora.ttl").data, format="turtle")
    assert isomorphic(Graph().parse(server + "/id/sonora"), turtle)
