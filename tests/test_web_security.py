"""/sparql is read-only and bounded: no update, no SERVICE outside the allowlist, no network
from the query workers, a time limit that really stops a query, no 500 for client mistakes,
and markup in the data stays data."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from web_support import SCRIPT, close_app, make_app

from fentanyl_kg.namespaces import PREFIXES
from fentanyl_kg.query import guard

STILL_THERE = "ASK { id:sonora fkg:locatedIn id:mexico }"


@pytest.fixture()
def listener() -> Iterator[tuple[int, list[bytes]]]:
    """A local TCP server that records every connection made to it."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    seen: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            seen.append(b"connected")
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield srv.getsockname()[1], seen
    stop.set()
    thread.join(5)
    srv.close()


# -- SERVICE ----------------------------------------------------------------------------------
SERVICE_QUERIES = [
    "SELECT * {{ SERVICE <http://127.0.0.1:{port}/sparql> {{ ?s ?p ?o }} }}",
    "select * {{ service silent <http://127.0.0.1:{port}/sparql> {{ ?s ?p ?o }} }}",
    "SELECT * {{ \\u0053ERVICE <http://127.0.0.1:{port}/sparql> {{ ?s ?p ?o }} }}",
    "ASK {{ ?s ?p ?o FILTER EXISTS {{ SERVICE <http://127.0.0.1:{port}/> {{ ?s ?p ?o }} }} }}",
    "SELECT * {{ {{ SELECT * {{ SERVICE <http://127.0.0.1:{port}/> {{ ?a ?b ?c }} }} }} }}",
    "PREFIX ex: <http://127.0.0.1:{port}/> SELECT * {{ SERVICE ex:sparql {{ ?s ?p ?o }} }}",
    "SELECT * {{ BIND(<http://127.0.0.1:{port}/> AS ?e) SERVICE ?e {{ ?s ?p ?o }} }}",
    "CONSTRUCT {{ ?s ?p ?o }} WHERE {{ SERVICE <http://127.0.0.1:{port}/> {{ ?s ?p ?o }} }}",
    "SELECT * {{ OPTIONAL {{ SERVICE <http://127.0.0.1:{port}/> {{ ?s ?p ?o }} }} }}",
]


@pytest.mark.parametrize("template", SERVICE_QUERIES)
def test_service_is_refused_and_no_connection_is_made(
        client: FlaskClient, listener: tuple[int, list[bytes]], template: str) -> None:
    port, seen = listener
    query = template.format(port=port)
    resp = client.get("/sparql?" + urlencode({"query": query}))
    assert resp.status_code == 403, resp.data
    assert "SERVICE" in resp.json["error"] and "not allowed" in resp.json["error"]
    time.sleep(0.3)
    assert seen == []


def test_the_word_service_elsewhere_is_fine(client: FlaskClient) -> None:
    resp = client.get("/sparql?" + urlencode({"query": 'SELECT ?service { BIND("service" AS '
                                                       '?service) } # SERVICE <http://x/>'}))
    assert resp.status_code == 200


def test_allowlist_is_checked_against_the_parsed_endpoint() -> None:
    allow = frozenset({"http://allowed.example/sparql"})
    guard.check_service("SELECT * { SERVICE <http://allowed.example/sparql> { ?s ?p ?o } }",
                        allow, PREFIXES)
    for query in ("SELECT * { SERVICE <http://allowed.example/sparql/x> { ?s ?p ?o } }",
                  "SELECT * { SERVICE ?x { ?s ?p ?o } }"):
        with pytest.raises(guard.QueryError):
            guard.check_service(query, allow, PREFIXES)


def test_workers_cannot_open_internet_sockets(listener: tuple[int, list[bytes]]) -> None:
    """The second layer: even a SERVICE call that got past the check fails in a worker."""
    # Never call block_network() here: the filter would stay on the test process for good.
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "aarch64"):
        pytest.skip("the seccomp filter is for Linux on x86_64 and aarch64")
    port, seen = listener
    code = (
        "import pyoxigraph, sys\n"
        "from fentanyl_kg.query.guard import block_network\n"
        "problem = block_network()\n"
        "if problem: sys.exit('no filter: ' + problem)\n"
        "try:\n"
        f"    list(pyoxigraph.Store().query('SELECT * {{ SERVICE <http://127.0.0.1:{port}/> "
        "{ ?s ?p ?o } }'))\n"
        "except OSError as exc:\n"
        "    print('refused:', exc)\n"
        "import socket\n"
        "try:\n"
        "    socket.socket(socket.AF_INET)\n"
        "except PermissionError:\n"
        "    print('no inet socket')\n"
        "socket.socketpair()\n"
        "print('unix ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.returncode == 0, out.stderr + out.stdout
    assert "refused:" in out.stdout and "no inet socket" in out.stdout
    assert "unix ok" in out.stdout
    time.sleep(0.3)
    assert seen == []


# -- SPARQL Update ----------------------------------------------------------------------------
UPDATES = [
    "INSERT DATA { <http://e/s> <http://e/p> <http://e/o> }",
    "DELETE WHERE { ?s ?p ?o }",
    "DELETE DATA { id:sonora fkg:locatedIn id:mexico }",
    "PREFIX e: <http://e/>\nWITH <http://e/g> DELETE { ?s ?p ?o } INSERT { ?s ?p 1 } "
    "WHERE { ?s ?p ?o }",
    "LOAD <http://127.0.0.1:9/data.ttl>",
    "LOAD SILENT <file:///etc/passwd> INTO GRAPH <http://e/g>",
    "DROP ALL", "DROP GRAPH <https://w3id.org/fentanyl-kg/graph/provenance>",
    "CLEAR DEFAULT", "CREATE GRAPH <http://e/g>",
    "ADD DEFAULT TO <http://e/g>", "MOVE DEFAULT TO <http://e/g>", "COPY DEFAULT TO <http://e/g>",
    "# a comment first\nclear all",
]


@pytest.mark.parametrize("update", UPDATES)
def test_updates_are_refused_every_way(client: FlaskClient, update: str) -> None:
    attempts = [
        client.get("/sparql?" + urlencode({"query": update})),
        client.post("/sparql", data={"query": update}),
        client.post("/sparql", data=update.encode(),
                    headers={"Content-Type": "application/sparql-query"}),
        client.post("/sparql", data={"update": update}),
        client.get("/sparql?" + urlencode({"update": update})),
        client.post("/sparql", data=update.encode(),
                    headers={"Content-Type": "application/sparql-update"}),
    ]
    for resp in attempts:
        assert resp.status_code == 403, resp.data
        assert "read-only" in resp.json["error"]
    assert client.get("/sparql?" + urlencode({"query": STILL_THERE})).json["boolean"] is True


# -- the time limit -------------------------------------------------------------------------
def test_time_limit_stops_a_runaway_query_while_others_are_served() -> None:
    app = make_app(QUERY_TIMEOUT=2, QUERY_WORKERS=2)
    try:
        client = app.test_client()
        assert client.get("/healthz").status_code == 200  # workers started
        product = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
        slow: dict[str, object] = {}

        def run_slow() -> None:
            started = time.monotonic()
            resp = app.test_client().get("/sparql?" + urlencode({"query": product}))
            slow.update(status=resp.status_code, body=resp.json,
                        seconds=time.monotonic() - started)

        thread = threading.Thread(target=run_slow)
        thread.start()
        time.sleep(0.5)
        quick = client.get("/sparql?" + urlencode({"query": STILL_THERE}))
        assert quick.status_code == 200 and quick.json["boolean"] is True
        assert thread.is_alive(), "the product query should still be running"
        thread.join(20)
        assert not thread.is_alive(), "no answer within 20 s"
        assert slow["status"] == 503
        assert "stopped after 2 s" in slow["body"]["error"]  # type: ignore[index]
        assert slow["seconds"] < 20  # type: ignore[operator]
        # the killed worker is replaced and the endpoint keeps answering
        deadline = time.monotonic() + 60
        while client.get("/healthz").json["alive"] < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.get("/healthz").json["alive"] == 2
        assert client.get("/sparql?" + urlencode({"query": STILL_THERE})).status_code == 200
    finally:
        close_app(app)


# -- no 500 for client mistakes -------------------------------------------------------------
NASTY = [
    {"query": "\x00"}, {"query": "SELECT"}, {"query": "}}}}"}, {"query": "ASK {} ASK {}"},
    {"query": "SELECT * { ?s ?p ?o } LIMIT -1"}, {"query": "SELECT * FROM <not an iri> {}"},
    {"query": "SELECT (<<( <a:b> <a:c> 1 )>> AS ?t) {}"}, {"query": 'SELECT ("\\uD800" AS ?x) {}'},
    {"query": "SELECT * { ?s ?p ?o } ORDER BY (1/0)"}, {"query": "DESCRIBE <>"},
    {"query": "SELECT * {}", "format": "\x00"}, {"query": "SELECT * {}", "citations": "1"},
    {"query": "SELECT * { SERVICE <::> {} }"}, {"query": "SELECT * { SERVICE }"},
    {"query": "ASK {}", "default-graph-uri": ""}, {"query": "ASK {}", "named-graph-uri": "x"},
    {"query": "SELECT * WHERE { ?s ?p ?o } GROUP BY ?nothing HAVING (?s)"},
    {"query": "SELECT ?x { VALUES ?x { " + "1 " * 5000 + "} }", "format": "tsv"},
]


@pytest.mark.parametrize("params", NASTY)
def test_client_mistakes_never_give_500(client: FlaskClient, params: dict[str, str]) -> None:
    for resp in (client.get("/sparql", query_string=params),
                 client.post("/sparql", data=params)):
        assert resp.status_code < 500, resp.data
        assert b"Traceback" not in resp.data


@pytest.mark.parametrize("headers", [
    {"Accept": "a/b/c;;q=x, */*;q=2"}, {"Accept": ";"}, {"Accept": "x" * 5000},
    {"Content-Type": "application/sparql-query; charset"},
    {"Content-Type": "multipart/form-data; boundary=x"},
])
def test_odd_headers_never_give_500(client: FlaskClient, headers: dict[str, str]) -> None:
    for resp in (client.get("/sparql?query=ASK%7B%7D", headers=headers),
                 client.post("/sparql", data=b"query=ASK%7B%7D", headers=headers)):
        assert resp.status_code < 500, resp.data


# -- markup in the data or the request stays data --------------------------------------------
def test_script_is_escaped_in_html_error_pages(client: FlaskClient) -> None:
    resp = client.get("/sparql?" + urlencode({"query": "ASK {}", "default-graph-uri": SCRIPT}),
                      headers={"Accept": "text/html"})
    assert resp.status_code == 400 and resp.mimetype == "text/html"  # error.html
    assert SCRIPT.encode() not in resp.data
    assert b"&lt;script&gt;" in resp.data


def test_script_in_results_is_escaped_where_markup_matters(client: FlaskClient) -> None:
    select = "SELECT ?l { id:harm-us-deaths-2024 rdfs:label ?l }"
    construct = "CONSTRUCT WHERE { id:harm-us-deaths-2024 rdfs:label ?l }"
    for query, accept in ((select, "application/sparql-results+xml"),
                          (construct, "application/rdf+xml")):
        resp = client.get("/sparql?" + urlencode({"query": query}), headers={"Accept": accept})
        assert resp.status_code == 200
        assert SCRIPT.encode() not in resp.data
        assert b"&lt;script&gt;" in resp.data
