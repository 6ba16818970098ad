"""A real `fentanyl-kg serve` process: SIGTERM lets every request in progress finish before it
exits 0, and SIGHUP swaps in a rebuilt release without one failed request."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from serving import edited, serving
from web_support import WEB_RELEASE

from fentanyl_kg import build

pytestmark = pytest.mark.slow
ANSWER = json.dumps({"head": {"vars": ["x"]},
                     "results": {"bindings": [{"x": {"type": "literal", "value": "held"}}]}})


class HeldEndpoint(ThreadingHTTPServer):
    """A SPARQL endpoint that answers only once the test lets it: queries calling it through
    SERVICE stay in progress for as long as the test needs, whatever the machine's speed."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Held)
        self.calls = 0
        self.lock = threading.Lock()
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/sparql"


class _Held(BaseHTTPRequestHandler):
    server: HeldEndpoint

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        with self.server.lock:
            self.server.calls += 1
        self.server.release.wait(120)
        body = ANSWER.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/sparql-results+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def held() -> Iterator[HeldEndpoint]:
    endpoint = HeldEndpoint()
    thread = threading.Thread(target=endpoint.serve_forever, daemon=True)
    thread.start()
    yield endpoint
    endpoint.release.set()
    endpoint.shutdown()
    endpoint.server_close()


def get(url: str, timeout: float = 120) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def refuses_connections(url: str) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def wait_for(condition: object, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_sigterm_finishes_every_request_in_progress(tmp_path: Path, held: HeldEndpoint) -> None:
    shutil.copytree(WEB_RELEASE, tmp_path / "out" / "release")
    n, workers = 24, 4
    env = {"FENTANYL_KG_SERVICE_ALLOWLIST": held.url, "FENTANYL_KG_QUERY_WORKERS": str(workers),
           "FENTANYL_KG_QUERY_TIMEOUT": "120", "FENTANYL_KG_SHUTDOWN_TIMEOUT": "120",
           # Held queries are slow by design: let every worker run one and the rest wait,
           # all from this one client address.
           "FENTANYL_KG_HEAVY_WORKERS": str(workers), "FENTANYL_KG_QUEUE_TIMEOUT": "120",
           "FENTANYL_KG_CLIENT_CONCURRENCY": "0", "FENTANYL_KG_RATE_LIMIT": "0"}
    query = f"SELECT ?x {{ SERVICE <{held.url}> {{ ?x ?p ?o }} }}"
    with serving(["--out", str(tmp_path / "out"), "--threads", str(n + 4)], env) as srv:
        url = srv.url + "/sparql?" + urlencode({"query": query})
        with ThreadPoolExecutor(n) as pool:
            replies = [pool.submit(get, url) for _ in range(n)]
            wait_for(lambda: held.calls == workers)  # every worker is inside a query
            time.sleep(1)  # the other requests reach the server and wait for a worker
            assert not any(r.done() for r in replies)
            srv.signal(signal.SIGTERM)
            wait_for(lambda: refuses_connections(srv.url))  # no new connections
            assert srv.proc.poll() is None and not any(r.done() for r in replies)
            held.release.set()
            results = [r.result() for r in replies]
        assert srv.proc.wait(120) == 0, "".join(srv.log)
    assert [status for status, _ in results] == [200] * n
    assert all(json.loads(body)["results"]["bindings"][0]["x"]["value"] == "held"
               for _, body in results)
    assert held.calls == n


def test_sighup_swaps_in_a_rebuilt_release_without_a_failed_request(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    first = build.build(edited(data, "Sinaloa before"), out)
    query = "SELECT ?l { <https://w3id.org/fentanyl-kg/id/sinaloa> rdfs:label ?l }"
    failures: list[str] = []
    labels: list[str] = []
    stop = threading.Event()

    def client(url: str) -> None:
        while not stop.is_set():
            for path in ("/healthz", "/sparql?" + urlencode({"query": query}), "/id/sinaloa"):
                try:
                    status, body = get(url + path, timeout=60)
                except OSError as exc:
                    failures.append(f"{path}: {exc}")
                    continue
                if status != 200:
                    failures.append(f"{path}: {status} {body[:200]!r}")
                elif path.startswith("/sparql"):
                    labels.append(json.loads(body)["results"]["bindings"][0]["l"]["value"])

    # This test is about the swap, not admission: on a busy machine a page may run past the
    # fast lane, so let every worker be heavy, and the four clients share one address.
    env = {"FENTANYL_KG_HEAVY_WORKERS": "4", "FENTANYL_KG_CLIENT_CONCURRENCY": "0",
           "FENTANYL_KG_RATE_LIMIT": "0"}
    with serving(["--out", str(out), "--data", str(data), "--threads", "8"], env) as srv:
        threads = [threading.Thread(target=client, args=(srv.url,)) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            wait_for(lambda: len(labels) > 10)
            second = build.build(edited(data, "Sinaloa after"), out)
            srv.signal(signal.SIGHUP)
            wait_for(lambda: json.loads(get(srv.url + "/healthz")[1])["version"] ==
                     second.version)
            seen = len(labels)
            wait_for(lambda: len(labels) > seen + 10)  # keep going on the new release
        finally:
            stop.set()
            for t in threads:
                t.join(120)
        assert srv.stop() == 0, "".join(srv.log)
    assert failures == []
    assert labels[0] == "Sinaloa before" and labels[-1] == "Sinaloa after"
    assert first.version != second.version
    assert any("now serving release " + second.version in line for line in srv.log)


def test_a_trusted_proxy_tells_clients_apart_over_the_wire(tmp_path: Path) -> None:
    """waitress must pass X-Forwarded-For on, so the per-client budgets of a real server behind
    a trusted proxy (here loopback) count each forwarded client on its own."""
    shutil.copytree(WEB_RELEASE, tmp_path / "out" / "release")
    env = {"FENTANYL_KG_TRUSTED_PROXIES": "127.0.0.1", "FENTANYL_KG_RATE_LIMIT": "2",
           "FENTANYL_KG_RATE_WINDOW": "3600"}
    with serving(["--out", str(tmp_path / "out")], env) as srv:
        def status(client: str) -> int:
            req = urllib.request.Request(srv.url + "/sparql?" + urlencode(
                {"query": "ASK {}"}), headers={"X-Forwarded-For": client,
                                               "Accept": "application/sparql-results+json"})
            try:
                with urllib.request.urlopen(req, timeout=60) as resp:
                    return int(resp.status)
            except urllib.error.HTTPError as exc:
                with exc:
                    return int(exc.code)

        assert [status("198.18.0.1") for _ in range(3)] == [200, 200, 429]
        assert status("198.18.0.2") == 200
        assert srv.stop() == 0
