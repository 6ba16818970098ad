"""`fentanyl-kg serve` over real HTTP: SPARQLWrapper in every result format, gzip, the access
log, /healthz, the time limit under waitress, and building the release when there is none."""

from __future__ import annotations

import gzip
import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from xml.dom.minidom import Document

import pytest
from rdflib import Graph, Literal, URIRef
from SPARQLWrapper import (
    CSV,
    JSON,
    JSONLD,
    N3,
    POST,
    POSTDIRECTLY,
    RDFXML,
    TSV,
    TURTLE,
    URLENCODED,
    XML,
    SPARQLWrapper,
)
from web_support import FKG, ID, WEB_RELEASE, Server, close_app, live_server, make_app

from fentanyl_kg.web import serve

pytestmark = [
    pytest.mark.slow,
    # SPARQLWrapper 2.0 parses RDF results into rdflib's ConjunctiveGraph, deprecated in rdflib 7
    pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning"),
]
SONORA_LABELS = "SELECT ?label WHERE { id:sonora rdfs:label ?label } ORDER BY ?label"
SONORA_ASK = "ASK { id:sonora fkg:locatedIn id:mexico }"
SONORA_GRAPH = "CONSTRUCT WHERE { id:sonora ?p ?o }"
SONORA = URIRef(ID + "sonora")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    out = tmp_path_factory.mktemp("serve-out")
    shutil.copytree(WEB_RELEASE, out / "release")
    # Many requests at once from one address: the per-client cap would refuse them.
    with live_server(out, env={"FENTANYL_KG_QUERY_TIMEOUT": "2",
                               "FENTANYL_KG_CLIENT_CONCURRENCY": "0"}) as srv:
        yield srv


def wrapper(server: Server, query: str, fmt: str, how: str = "GET") -> Any:
    sparql = SPARQLWrapper(server.url + "/sparql")
    sparql.setQuery(query)
    sparql.setReturnFormat(fmt)
    if how != "GET":
        sparql.setMethod(POST)
        sparql.setRequestMethod(POSTDIRECTLY if how == "POST direct" else URLENCODED)
    return sparql.query()


def fetch(url: str, headers: dict[str, str] | None = None,
          data: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


# -- SPARQLWrapper, every format ------------------------------------------------------------
@pytest.mark.parametrize("how", ["GET", "POST form", "POST direct"])
def test_select_json(server: Server, how: str) -> None:
    data = wrapper(server, SONORA_LABELS, JSON, how).convert()
    assert [b["label"] for b in data["results"]["bindings"]] == [
        {"type": "literal", "xml:lang": lang, "value": "Sonora"} for lang in ("en", "es", "fr")]


def test_select_xml(server: Server) -> None:
    dom = wrapper(server, SONORA_LABELS, XML).convert()
    assert isinstance(dom, Document)
    literals = dom.getElementsByTagName("literal")
    assert [node.firstChild.data for node in literals] == ["Sonora"] * 3


@pytest.mark.parametrize(("fmt", "header"), [(CSV, "label\r\n"), (TSV, "?label\n")])
def test_select_csv_tsv(server: Server, fmt: str, header: str) -> None:
    text = wrapper(server, SONORA_LABELS, fmt).convert().decode()
    assert text.startswith(header)
    assert text.count("Sonora") == 3


@pytest.mark.parametrize("fmt", [JSON, XML, CSV, TSV])
def test_ask(server: Server, fmt: str) -> None:
    result = wrapper(server, SONORA_ASK, fmt).convert()
    if fmt == JSON:
        assert result["boolean"] is True
    elif fmt == XML:
        assert result.getElementsByTagName("boolean")[0].firstChild.data == "true"
    else:  # the form Jena writes and reads
        assert result == (b"_askResult\r\ntrue\r\n" if fmt == CSV else b"?_askResult\ntrue\n")


@pytest.mark.parametrize("fmt", [RDFXML, XML, JSONLD])
@pytest.mark.parametrize("query", [SONORA_GRAPH, "DESCRIBE id:sonora"])
def test_graph_formats_parsed_by_sparqlwrapper(server: Server, fmt: str, query: str) -> None:
    graph = wrapper(server, query, fmt).convert()
    assert isinstance(graph, Graph)
    assert (SONORA, URIRef(FKG + "iso3166Code"), Literal("MX-SON")) in graph


@pytest.mark.parametrize("fmt", [TURTLE, N3])
def test_graph_as_turtle(server: Server, fmt: str) -> None:
    text = wrapper(server, SONORA_GRAPH, fmt).convert()
    graph = Graph().parse(data=text, format="turtle")
    assert (SONORA, URIRef(FKG + "iso3166Code"), Literal("MX-SON")) in graph


def test_ntriples_and_curl_style_requests(server: Server) -> None:
    url = server.url + "/sparql?" + urlencode({"query": SONORA_GRAPH})
    status, headers, body = fetch(url, {"Accept": "application/n-triples"})
    assert status == 200 and headers["Content-Type"] == "application/n-triples"
    assert len(Graph().parse(data=body.decode(), format="nt")) > 5
    url = server.url + "/sparql?" + urlencode({"query": SONORA_LABELS})
    status, headers, body = fetch(url, {"Accept": "application/sparql-results+json"})
    assert status == 200 and len(json.loads(body)["results"]["bindings"]) == 3


# -- HTTP behaviour -------------------------------------------------------------------------
def test_healthz_gzip_and_access_log(server: Server) -> None:
    status, _, body = fetch(server.url + "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    url = server.url + "/sparql?" + urlencode({"query": "SELECT * { ?s ?p ?o }"})
    status, headers, body = fetch(url, {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(body))["results"]["bindings"]
    marker = "access-log-marker"
    fetch(server.url + "/sparql?" + urlencode({"query": f"ASK {{}} # {marker}"}))
    deadline = time.monotonic() + 10
    while not any(marker in line for line in server.log) and time.monotonic() < deadline:
        time.sleep(0.1)
    line = next(line for line in server.log if marker in line)
    assert '"GET /sparql?query=ASK' in line and " 200 " in line and line.rstrip().endswith("ms")


def test_many_requests_at_once(server: Server) -> None:
    url = server.url + "/sparql?" + urlencode({"query": SONORA_ASK})
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: fetch(url), range(48)))
    assert all(status == 200 and json.loads(body)["boolean"] for status, _, body in answers)


def test_time_limit_over_http(server: Server) -> None:
    product = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
    slow: dict[str, Any] = {}

    def run_slow() -> None:
        started = time.monotonic()
        status, _, body = fetch(server.url + "/sparql?" + urlencode({"query": product}))
        slow.update(status=status, body=json.loads(body), seconds=time.monotonic() - started)

    thread = threading.Thread(target=run_slow)
    thread.start()
    time.sleep(0.5)
    status, _, body = fetch(server.url + "/sparql?" + urlencode({"query": SONORA_ASK}))
    assert status == 200 and json.loads(body)["boolean"] is True
    assert thread.is_alive()
    thread.join(20)
    assert not thread.is_alive()
    assert slow["status"] == 503 and "stopped after 2 s" in slow["body"]["error"]


def test_service_is_refused_over_http(server: Server) -> None:
    query = "SELECT * { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }"
    status, _, body = fetch(server.url + "/sparql", {
        "Content-Type": "application/sparql-query"}, query.encode())
    assert status == 403 and "not allowed" in json.loads(body)["error"]


# -- startup --------------------------------------------------------------------------------
def test_serve_builds_the_release_first(tmp_path: Path) -> None:
    mini = Path(__file__).resolve().parent / "data" / "mini"
    with live_server(tmp_path / "out", data_dir=mini) as srv:
        assert (tmp_path / "out" / "release" / "dataset.nq").is_file()
        assert any("building" in line for line in srv.log)
        url = srv.url + "/sparql?" + urlencode({"query": "ASK { id:sinaloa a fkg:Place }"})
        status, _, body = fetch(url)
        assert status == 200 and json.loads(body)["boolean"] is True


def test_access_log_line_format() -> None:
    environ = {"REMOTE_ADDR": "127.0.0.1", "REQUEST_METHOD": "GET", "PATH_INFO": "/sparql",
               "QUERY_STRING": "query=" + "x" * 1000, "SERVER_PROTOCOL": "HTTP/1.1",
               "HTTP_USER_AGENT": "test"}
    line = serve._line(environ, "200", 123, 0.0042)
    assert line.startswith('127.0.0.1 - - [')
    assert '"GET /sparql?query=xxx' in line
    assert line.endswith('... HTTP/1.1" 200 123 "-" "test" 4.2ms')
    assert len(line) < 500


def test_allowlisted_service_is_called(server: Server) -> None:
    """With the endpoint in SERVICE_ALLOWLIST, the workers keep the network and federate."""
    endpoint = server.url + "/sparql"
    app = make_app(SERVICE_ALLOWLIST=(endpoint,), QUERY_WORKERS=1)
    try:
        query = f"SELECT ?l {{ SERVICE <{endpoint}> {{ id:sonora rdfs:label ?l }} }}"
        resp = app.test_client().get("/sparql?" + urlencode({"query": query}))
        assert resp.status_code == 200, resp.data
        assert sorted(b["l"]["value"] for b in resp.json["results"]["bindings"]) == \
            ["Sonora"] * 3
        other = query.replace(endpoint, server.url + "/elsewhere")
        assert app.test_client().get("/sparql?" + urlencode({"query": other})).status_code == 403
    finally:
        close_app(app)
