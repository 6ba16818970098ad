"""HTTP hygiene of /sparql and the pages: HEAD, Accept edge cases, strict UTF-8, per-client
limits, security headers, CORS, the access log, spreadsheet-safe downloads, default formats of
the other query family, and ASK in CSV/TSV as Jena reads it. Real app, real store, and a real
waitress server on loopback where the wire matters."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pyoxigraph as ox
import pytest
from flask import Flask
from flask.testing import FlaskClient
from rdflib.query import Result
from web_support import ID, close_app, fixture_files, make_app, write_release
from werkzeug.exceptions import TooManyRequests

from fentanyl_kg.web import config, serve

JSON, CSV, TSV = "application/sparql-results+json", "text/csv", "text/tab-separated-values"
ASK = "ASK { id:sonora fkg:locatedIn id:mexico }"
FORMULA = '=HYPERLINK("http://evil.example/","click")'
SONORA_CLAIM = ID + "claim/4d1f07b6a2e85c74"


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The web fixture plus one claimed value that a spreadsheet would run as a formula."""
    quads = list(ox.parse(fixture_files()["dataset.nq"], format=ox.RdfFormat.N_QUADS))
    quads.append(ox.Quad(ox.NamedNode(ID + "sonora"),
                         ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#comment"),
                         ox.Literal(FORMULA), ox.NamedNode(SONORA_CLAIM)))
    from web_support import release_files

    return write_release(tmp_path_factory.mktemp("protocol") / "release", release_files(quads))


@pytest.fixture(scope="module")
def app(release: Path) -> Iterator[Flask]:
    app = make_app(release)
    yield app
    close_app(app)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def sparql(client: FlaskClient, query: str, accept: str = JSON, **params: str):  # type: ignore
    return client.get("/sparql?" + urlencode({"query": query, **params}),
                      headers={"Accept": accept})


# -- HEAD, Accept, UTF-8 ---------------------------------------------------------------------
@pytest.mark.parametrize("target", ["/sparql", "/sparql?" + urlencode({"query": ASK})])
def test_head_is_get_without_a_body(client: FlaskClient, target: str) -> None:
    head, got = client.head(target), client.get(target)
    assert head.status_code == got.status_code == 200
    assert head.data == b"" and got.data
    assert head.headers["Content-Type"] == got.headers["Content-Type"]
    assert head.headers["ETag"] == got.headers["ETag"]


@pytest.mark.parametrize("accept", [f"{JSON};q=abc", f"{JSON};q=2", "text/turtle;q=1.5",
                                    f"{JSON};q=abc, {CSV};q=0.5"])
def test_malformed_q_is_ignored_not_406(client: FlaskClient, accept: str) -> None:
    resp = sparql(client, ASK, accept=accept)
    assert resp.status_code == 200
    assert resp.mimetype == (CSV if CSV in accept else JSON)  # the bad range is skipped


@pytest.mark.parametrize("accept", ["text/turtle;q=abc", "application/ld+json;q=7"])
def test_malformed_q_is_ignored_on_pages(client: FlaskClient, accept: str) -> None:
    assert client.get("/id/sonora", headers={"Accept": accept}).status_code == 200


@pytest.mark.parametrize("encoded", ["%C3%28", "%FF", "%ED%A0%80"])
def test_invalid_utf8_in_query_string_is_a_400(client: FlaskClient, encoded: str) -> None:
    resp = client.get(f"/sparql?query=ASK%7B%3Fs%20%3Fp%20%22{encoded}%22%7D")
    assert resp.status_code == 400
    assert set(resp.json) == {"error", "status"} and "UTF-8" in resp.json["error"]
    assert "'query'" in resp.json["error"]


@pytest.mark.parametrize("encoded", [b"%C3%28", b"%FF"])
def test_invalid_utf8_in_form_body_is_a_400(client: FlaskClient, encoded: bytes) -> None:
    resp = client.post("/sparql", data=b"query=ASK%7B%3Fs%20%3Fp%20%22" + encoded + b"%22%7D",
                       content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 400 and "form body" in resp.json["error"]


@pytest.mark.parametrize("path", ["/cite?s=%FF", "/query/flows_from_country?country=%C3%28",
                                  "/query/flows_from_country.csv?country=mexico%FF",
                                  "/id/sonora?out=%FF", "/sources?page=%C3"])
def test_invalid_utf8_in_a_page_parameter_is_a_400(client: FlaskClient, path: str) -> None:
    resp = client.get(path, headers={"Accept": "application/json"})
    assert resp.status_code == 400
    assert set(resp.json) == {"error", "status"} and "UTF-8" in resp.json["error"]


def test_valid_utf8_still_runs(client: FlaskClient) -> None:
    query = 'SELECT ?l { id:sonora rdfs:label ?l FILTER(?l != "Señora") }'
    assert sparql(client, query).status_code == 200
    form = client.post("/sparql", data={"query": query}, headers={"Accept": JSON})
    assert form.status_code == 200


# -- the other query family gets its default format, as Fuseki does ----------------------------
@pytest.mark.parametrize(("query", "accept", "expected"), [
    ("CONSTRUCT WHERE { id:sonora ?p ?o }", JSON, "text/turtle"),
    ("DESCRIBE id:sonora", "application/sparql-results+xml", "text/turtle"),
    ("DESCRIBE id:sonora", CSV, "text/turtle"),
    ("SELECT ?p { id:sonora ?p ?o }", "text/turtle", JSON),
    (ASK, "application/rdf+xml", JSON),
])
def test_other_family_gets_the_default_format(client: FlaskClient, query: str, accept: str,
                                              expected: str) -> None:
    resp = sparql(client, query, accept=accept)
    assert resp.status_code == 200 and resp.mimetype == expected
    if expected == "text/turtle":
        assert len(list(ox.parse(resp.data, format=ox.RdfFormat.TURTLE))) > 0
    else:
        assert "head" in resp.json


@pytest.mark.parametrize(("fmt", "body"), [
    ("csv", b"_askResult\r\ntrue\r\n"), ("tsv", b"?_askResult\ntrue\n")])
def test_ask_in_csv_and_tsv_as_jena_reads_it(client: FlaskClient, fmt: str, body: bytes) -> None:
    resp = sparql(client, ASK, format=fmt)
    assert resp.status_code == 200 and resp.data == body
    table = Result.parse(io.BytesIO(resp.data), format=fmt)  # rdflib still reads it
    assert [str(v) for v in table.vars] == ["_askResult"]  # type: ignore[union-attr]
    assert [str(row[0]) for row in table] == ["true"]  # type: ignore[index]


def test_service_description_has_stable_bytes_and_304(client: FlaskClient) -> None:
    first = client.get("/sparql", headers={"Accept": "text/turtle"})
    again = client.get("/sparql", headers={"Accept": "text/turtle"})
    assert first.data == again.data and first.headers["ETag"] == again.headers["ETag"]
    cached = client.get("/sparql", headers={"Accept": "text/turtle",
                                            "If-None-Match": first.headers["ETag"]})
    assert cached.status_code == 304


# -- security headers and CORS -------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/sparql?" + urlencode({"query": ASK}), "/id/sonora",
                                  "/id/nothing-here", "/assets/query.js", "/healthz"])
def test_every_response_has_security_headers(client: FlaskClient, path: str) -> None:
    resp = client.get(path)
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"]
    resp.close()  # a static file is sent from an open file


def test_query_page_runs_no_inline_script(client: FlaskClient) -> None:
    """Under script-src 'self' an inline script would not run: the page has only script files
    and its JSON data block, which CSP leaves alone."""
    html = client.get("/").get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts
    for attrs, body in scripts:
        assert "src=" in attrs and not body.strip() or 'type="application/json"' in attrs
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers
    assert " style=" not in html


def test_cors_preflight_allows_what_clients_send(client: FlaskClient) -> None:
    asked = "content-type,x-requested-with,authorization,cache-control"
    pre = client.options("/sparql", headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": asked})
    assert pre.headers["Access-Control-Allow-Headers"] == asked
    assert "HEAD" in pre.headers["Access-Control-Allow-Methods"]
    plain = client.options("/sparql", headers={"Origin": "https://example.org",
                                               "Access-Control-Request-Method": "GET"})
    assert "If-None-Match" in plain.headers["Access-Control-Allow-Headers"]
    exposed = {h.strip() for h in client.get("/id/sonora").headers[
        "Access-Control-Expose-Headers"].split(",")}
    assert {"ETag", "Link", "Retry-After", "Fentanyl-KG-Truncated",
            "Content-Disposition"} <= exposed


# -- spreadsheet downloads ---------------------------------------------------------------------
def test_named_query_csv_neutralises_formulas(client: FlaskClient) -> None:
    resp = client.get("/query/entity_statements.csv?entity=sonora")
    assert resp.status_code == 200
    cells = [c for row in csv.reader(io.StringIO(resp.get_data(as_text=True))) for c in row]
    assert "'" + FORMULA in cells and FORMULA not in cells
    assert not any(c.startswith(("=", "+", "@", "\t", "\r")) for c in cells)


def test_sparql_csv_stays_w3c_exact(client: FlaskClient) -> None:
    resp = sparql(client, "SELECT ?c { id:sonora rdfs:comment ?c }", accept=CSV)
    assert list(csv.reader(io.StringIO(resp.get_data(as_text=True)))) == [["c"], [FORMULA]]


@pytest.mark.parametrize(("value", "cell"), [
    ("-12.5", "-12.5"), ("+3", "+3"), ("1e5", "1e5"),
    ("-1+cmd|' /C calc'!A0", "'-1+cmd|' /C calc'!A0"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("plain", "plain")])
def test_spreadsheet_cell(value: str, cell: str) -> None:
    from fentanyl_kg.web import named

    assert named.spreadsheet_cell(ox.Literal(value)) == cell


# -- per-client limits -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def limited_app(release: Path) -> Iterator[Flask]:
    app = make_app(release, RATE_LIMIT=3, RATE_WINDOW=3600, TRUSTED_PROXIES="10.0.0.1")
    yield app
    close_app(app)


def test_past_the_budget_a_client_gets_429_and_others_do_not(limited_app: Flask) -> None:
    one = limited_app.test_client()
    one.environ_base["REMOTE_ADDR"] = "192.0.2.1"
    assert [one.get("/sparql?" + urlencode({"query": ASK})).status_code
            for _ in range(3)] == [200, 200, 200]
    refused = one.get("/sparql?" + urlencode({"query": ASK}))
    assert refused.status_code == 429
    assert set(refused.json) == {"error", "status"} and refused.json["status"] == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 1200  # one token: 3600 s / 3
    assert one.get("/healthz").status_code == 200  # exempt
    other = limited_app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.2"
    assert other.get("/sparql?" + urlencode({"query": ASK})).status_code == 200
    html = one.get("/id/sonora", headers={"Accept": "text/html"})
    assert html.status_code == 429 and html.mimetype == "text/html"  # error.html


def test_forwarded_for_counts_only_from_a_trusted_proxy(limited_app: Flask) -> None:
    proxy = limited_app.test_client()
    proxy.environ_base["REMOTE_ADDR"] = "10.0.0.1"
    for n in range(5):  # five clients behind the proxy, each well within its budget
        hdr = {"X-Forwarded-For": f"198.51.100.{n}, 10.0.0.1"}
        assert proxy.get("/ontology.json", headers=hdr).status_code == 200
    liar = limited_app.test_client()
    liar.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    codes = [liar.get("/ontology.json", headers={"X-Forwarded-For": f"198.51.100.{n}"})
             .status_code for n in range(10, 14)]
    assert codes == [200, 200, 200, 429]  # an untrusted sender's header is ignored


def test_requests_in_progress_are_capped_per_client(release: Path) -> None:
    """A view that waits for the test holds one request of client A in progress; no clock."""
    app = make_app(release, CLIENT_CONCURRENCY=1)
    entered, release_it = threading.Event(), threading.Event()

    def hold() -> str:
        entered.set()
        release_it.wait(60)
        return "done"

    app.add_url_rule("/test-hold", view_func=hold)
    a, b = app.test_client(), app.test_client()
    a.environ_base["REMOTE_ADDR"], b.environ_base["REMOTE_ADDR"] = "192.0.2.7", "192.0.2.8"
    held = threading.Thread(target=lambda: a.get("/test-hold"))
    try:
        held.start()
        assert entered.wait(60)
        refused = a.get("/ontology.json")
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
        assert "at most 1 at once" in refused.json["error"]
        assert b.get("/ontology.json").status_code == 200  # another client
        assert a.get("/healthz").status_code == 200  # exempt
        release_it.set()
        held.join(60)
        assert a.get("/ontology.json").status_code == 200  # the slot is free again
    finally:
        release_it.set()
        close_app(app)


def test_concurrency_cap_per_client() -> None:
    from fentanyl_kg.web import limits

    limiter = limits.Limiter(config.load({"CLIENT_CONCURRENCY": 2, "RATE_LIMIT": 0}, {}))
    limiter.enter("a")
    limiter.enter("a")
    with pytest.raises(TooManyRequests) as refused:
        limiter.enter("a")
    assert refused.value.retry_after == 1
    limiter.enter("b")  # another client is not affected
    limiter.leave("a")
    limiter.enter("a")


def test_limits_are_off_at_zero(release: Path) -> None:
    app = make_app(release, RATE_LIMIT=0, CLIENT_CONCURRENCY=0)
    try:
        c = app.test_client()
        assert all(c.get("/ontology.json").status_code == 200 for _ in range(30))
    finally:
        close_app(app)
    with pytest.raises(config.StartupError):
        config.load({"RATE_LIMIT": -1}, {})


# -- the access log, over real HTTP ------------------------------------------------------------
@pytest.fixture(scope="module")
def wire(app: Flask) -> Iterator[str]:
    """The app behind AccessLog, served by waitress on a free loopback port."""
    from waitress.server import create_server

    server = create_server(serve.AccessLog(app), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"  # type: ignore[union-attr]
    server.close()
    thread.join(10)


def raw_get(url: str, target: bytes, headers: bytes = b"", method: bytes = b"GET") -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(method + b" " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                     headers + b"\r\n")
        return b"".join(iter(lambda: sock.recv(65536), b""))


def test_access_log_escapes_controls(wire: str, caplog: pytest.LogCaptureFixture) -> None:
    """waitress decodes %0A in the path to a newline (it refuses raw controls in headers)."""
    with caplog.at_level(logging.INFO, logger="fentanyl_kg.access"):
        raw_get(wire, b"/id/x%0A127.0.0.1%20-%20-%20forged%1B[2J%00%C2%85%7F",
                b'User-Agent: evil" "x\r\n')
        deadline = time.monotonic() + 30  # the line is written once the body is sent
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.05)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "fentanyl_kg.access"]
    assert not re.search("[\x00-\x1f\x7f-\x9f]", line)
    assert "/id/x\\n127.0.0.1 - - forged\\x1b[2J\\x00\\x85\\x7f HTTP/1.1" in line
    assert '"evil\\" \\"x"' in line and " 404 " in line


@pytest.mark.parametrize(("raw", "logged"), [
    ("a\nb", "a\\nb"), ("\r\t", "\\r\\t"), ("\x1b[31m", "\\x1b[31m"), ("\x85", "\\x85"),
    ('say "hi" \\', 'say \\"hi\\" \\\\'), ("é ok", "é ok")])
def test_escape(raw: str, logged: str) -> None:
    assert serve.escape(raw) == logged


def test_status_codes_over_the_wire(wire: str) -> None:
    head = raw_get(wire, b"/sparql?" + urlencode({"query": ASK}).encode(), method=b"HEAD")
    assert head.startswith(b"HTTP/1.1 200") and head.endswith(b"\r\n\r\n")  # no body
    bad = raw_get(wire, b"/sparql?query=ASK%7B%22%FF%22%7D")
    assert bad.startswith(b"HTTP/1.1 400")
    body = json.loads(bad.split(b"\r\n\r\n", 1)[1])
    assert body["status"] == 400
