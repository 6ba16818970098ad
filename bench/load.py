"""The load run: many concurrent clients on loopback, a realistic mix of cheap queries and one
heavy query in twenty, latency per class, idle against loaded.

    .venv/bin/python bench/load.py                      # this checkout, 32 clients, 60 s
    .venv/bin/python bench/load.py --checkout ../other  # another checkout's code and build
    .venv/bin/python bench/load.py --url http://127.0.0.1:8000 --clients 8 --duration 20

It first measures each cheap class alone (one client, `--idle-duration` seconds), then runs
`--clients` closed-loop clients for `--duration` seconds. The table goes to stdout and to
bench/results/load-<timestamp>.md. The clients are Python threads with keep-alive
http.client connections (wrk is not installed here and cannot tell the classes apart without a
Lua logger); the table reports how much CPU they used, so a saturated client would show.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
PREFIX = ("PREFIX id: <https://w3id.org/fentanyl-kg/id/> "
          "PREFIX fkg: <https://w3id.org/fentanyl-kg/ontology#> "
          "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> ")
# Entities of the real graph; varied so that no class is one repeated request.
SLUGS = ("sonora", "mexico", "sinaloa", "fentanyl", "canada", "united-states", "arizona", "china")
LABELS = ("Sonora", "Mexico", "Sinaloa", "Canada", "Arizona", "China")
COUNTRIES = ("mexico", "china", "canada", "united-states", "india")
CHEAP = ("point", "ask", "label", "join2", "named", "page")
HEAVY = "heavy"
ACCEPT_JSON = "application/sparql-results+json"


@dataclass(frozen=True)
class Request:
    kind: str
    path: str
    accept: str


@dataclass
class Sample:
    kind: str
    status: str  # the HTTP status, or "conn" when the connection failed or was reset
    seconds: float


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    seconds: float = 0.0
    client_cpu: float = 0.0  # CPU seconds this process spent while the clients ran


def sparql(kind: str, query: str) -> Request:
    """A GET /sparql request for `query`, answered as SPARQL JSON."""
    return Request(kind, "/sparql?" + urllib.parse.urlencode({"query": PREFIX + query}),
                   ACCEPT_JSON)


def make_request(kind: str, rng: random.Random, n: int) -> Request:
    """One request of a class; `n` makes each heavy query's text distinct."""
    slug = rng.choice(SLUGS)
    if kind == "point":
        return sparql(kind, f"SELECT ?p ?o WHERE {{ id:{slug} ?p ?o }}")
    if kind == "ask":
        return sparql(kind, f"ASK {{ id:{slug} a ?type }}")
    if kind == "label":
        return sparql(kind, f'SELECT ?s WHERE {{ ?s rdfs:label "{rng.choice(LABELS)}"@en }}')
    if kind == "join2":
        return sparql(kind, f"SELECT ?x ?label WHERE {{ ?x fkg:locatedIn id:{slug} . "
                            "?x rdfs:label ?label }")
    if kind == "named":
        country = rng.choice(COUNTRIES)
        return Request(kind, f"/query/flows_from_country.json?country={country}",
                       "application/json")
    if kind == "page":
        return Request(kind, f"/id/{slug}", "text/html")
    # A 3-way cartesian product over every triple: CPU-bound well past any sane time limit,
    # with constant memory (COUNT, no ORDER BY), so it cannot take the shared machine down.
    return sparql(HEAVY, f"SELECT (COUNT(*) AS ?n) WHERE {{ ?a ?b ?c . ?d ?e ?f . ?g ?h ?i "
                         f"FILTER(?c != {n}) }}")


class Client:
    """One keep-alive connection; reconnects after an error. `address` goes out as
    X-Forwarded-For, so that a server trusting loopback as a proxy tells the clients apart."""

    def __init__(self, host: str, port: int, timeout: float, address: str = "") -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.headers = {"X-Forwarded-For": address} if address else {}
        self.conn: http.client.HTTPConnection | None = None

    def send(self, req: Request) -> Sample:
        """Send one request, read the whole answer, and time it."""
        started = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.conn.request("GET", req.path, headers={"Accept": req.accept, **self.headers})
            resp = self.conn.getresponse()
            resp.read()
            status = str(resp.status)
            if resp.will_close:
                self.close()
        except (OSError, http.client.HTTPException):
            self.close()
            status = "conn"
        return Sample(req.kind, status, time.perf_counter() - started)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def drive(host: str, port: int, clients: int, seconds: float, heavy_every: int,
          kinds: tuple[str, ...], timeout: float, seed: int) -> Run:
    """`clients` closed-loop clients for `seconds`; every `heavy_every`-th request is heavy."""
    counter = itertools.count(1)  # shared; next() on it is atomic under the GIL
    run = Run()
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def loop(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        client = Client(host, port, timeout, f"198.18.{i // 250}.{i % 250 + 1}")  # RFC 2544
        mine: list[Sample] = []
        turn = itertools.cycle(kinds[i % len(kinds):] + kinds[:i % len(kinds)])
        while time.monotonic() < stop:
            n = next(counter)
            # Cheap classes in turn (each client from its own one), so that every class gets
            # its share even in a short run; the parameters are drawn at random.
            kind = HEAVY if heavy_every and n % heavy_every == 0 else next(turn)
            mine.append(client.send(make_request(kind, rng, n)))
        client.close()
        with lock:
            run.samples.extend(mine)

    cpu0, wall0 = time.process_time(), time.monotonic()
    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.seconds = time.monotonic() - wall0
    run.client_cpu = time.process_time() - cpu0
    return run


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))]


def summary(samples: list[Sample], seconds: float) -> dict[str, float | int | str]:
    """requests, throughput, p50/p95/p99 and status counts of some samples."""
    times = [s.seconds for s in samples]
    statuses = Counter(s.status for s in samples)
    errors = {k: v for k, v in statuses.items() if not k.startswith(("2", "3"))}
    return {"requests": len(samples), "rps": len(samples) / seconds if seconds else 0.0,
            "p50": percentile(times, 50) if times else 0.0,
            "p95": percentile(times, 95) if times else 0.0,
            "p99": percentile(times, 99) if times else 0.0,
            "ok": sum(v for k, v in statuses.items() if k.startswith(("2", "3"))),
            "errors": ", ".join(f"{k}: {v}" for k, v in sorted(errors.items())) or "-"}


def table(title: str, run: Run, kinds: tuple[str, ...],
          idle: dict[str, dict] | None = None) -> tuple[list[str], dict[str, dict]]:
    """Markdown rows for each class and for all cheap classes together; with `idle`, each
    class's p95 as a multiple of its idle p95."""
    rows = [f"### {title} ({run.seconds:.1f} s, client CPU {run.client_cpu:.1f} s = "
            f"{run.client_cpu / run.seconds:.2f} cores)" if run.seconds else f"### {title}", "",
            "| class | requests | req/s | p50 s | p95 s | p99 s | p95 / idle | 2xx/3xx "
            "| errors by status |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    stats: dict[str, dict] = {}
    groups = [(k, [s for s in run.samples if s.kind == k]) for k in kinds]
    groups.append(("cheap (all)", [s for s in run.samples if s.kind != HEAVY]))
    for name, samples in groups:
        s = stats[name] = summary(samples, run.seconds)
        base = float(idle[name]["p95"]) if idle and name in idle else 0.0
        times = f"{float(s['p95']) / base:.1f}x" if base else "-"
        rows.append(f"| {name} | {s['requests']} | {s['rps']:.1f} | {s['p50']:.4f} | "
                    f"{s['p95']:.4f} | {s['p99']:.4f} | {times} | {s['ok']} | {s['errors']} |")
    return rows + [""], stats


def report(args: argparse.Namespace, url: str, commit: str, idle: Run, load: Run,
           loads: tuple[str, str]) -> str:
    """The Markdown report of one load run."""
    idle_rows, idle_stats = table("Idle: one client, cheap queries only", idle, CHEAP)
    kinds = (*CHEAP, HEAVY) if args.heavy_every else CHEAP
    load_rows, load_stats = table(f"Load: {args.clients} clients, one request in "
                                  f"{args.heavy_every} heavy", load, kinds, idle_stats)
    idle_p95 = float(idle_stats["cheap (all)"]["p95"])
    ratio = float(load_stats["cheap (all)"]["p95"]) / idle_p95 if idle_p95 else float("inf")
    cheap_errors = sum(1 for s in load.samples if s.kind != HEAVY and s.status[0] not in "23")
    heavy_other = sum(1 for s in load.samples if s.kind == HEAVY and s.status[0] not in "23"
                      and s.status != "503")
    lines = [f"## Load run {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC", "",
             f"- server: {url} (code at {commit})",
             f"- clients: Python threads, keep-alive http.client; {args.clients} clients for "
             f"{args.duration:g} s, after an idle pass of {args.idle_duration:g} s (one client, "
             "the same cheap mix)",
             f"- server environment: {' '.join(args.env) or 'as inherited'}",
             f"- load average (1, 5, 15 min) before: {loads[0]}; after: {loads[1]} "
             f"on {os.cpu_count()} cores",
             "", *idle_rows, *load_rows,
             f"**cheap p95 under load / idle: {ratio:.1f}x** (target <= 5x). "
             f"Cheap requests that failed: {cheap_errors}. Heavy requests that failed with "
             f"anything but 503: {heavy_other}.", ""]
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(checkout: Path, port: int, log: IO[bytes],
                 env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`fentanyl-kg serve` of the checkout, on its own build folder, with `env` added."""
    exe = checkout / ".venv" / "bin" / "fentanyl-kg"
    if not exe.exists():
        sys.exit(f"{exe} is missing: run `make .venv/.installed-stamp` in {checkout}")
    cmd = [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port),
           "--out", str(checkout / "build"), "--data", str(checkout / "graph_data")]
    return subprocess.Popen(cmd, cwd=checkout, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **env})


def wait_healthy(host: str, port: int, proc: subprocess.Popen[bytes] | None,
                 seconds: float) -> None:
    """Wait until /healthz answers 200, or exit saying why not."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            sys.exit(f"the server exited with {proc.returncode} before it was healthy")
        client = Client(host, port, 30)
        sample = client.send(Request("healthz", "/healthz", "application/json"))
        client.close()
        if sample.status == "200":
            return
        time.sleep(0.5)
    sys.exit(f"the server at {host}:{port} was not healthy after {seconds:g} s")


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def commit_of(checkout: Path) -> str:
    done = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--checkout", type=Path, default=ROOT, help="checkout whose server to run")
    p.add_argument("--url", help="attach to a running server instead (loopback only)")
    p.add_argument("--port", type=int, default=0, help="port for the started server (0: free)")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    p.add_argument("--idle-duration", type=float, default=20.0, help="seconds of idle pass")
    p.add_argument("--heavy-every", type=int, default=20, help="one heavy request in N (0: none)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds a request may take")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                   help="an environment variable for the started server (repeatable), e.g. "
                        "FENTANYL_KG_TRUSTED_PROXIES=127.0.0.1")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--results", type=Path, default=RESULTS, help="folder for the .md report")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> str:
    """Run the idle pass and the load run; print and save the report, and return it."""
    args = parse_args(argv)
    proc = None
    log = None
    if args.url:
        parts = urllib.parse.urlsplit(args.url)
        host, port = parts.hostname or "", parts.port or 80
        if host not in ("127.0.0.1", "localhost", "::1"):
            sys.exit("the load run is for loopback servers only")
        commit = "attached"
    else:
        host, port = "127.0.0.1", args.port or free_port()
        log = tempfile.TemporaryFile()  # the server's access log: never a pipe that fills up
        env = dict(item.partition("=")[::2] for item in args.env)
        proc = start_server(args.checkout.resolve(), port, log, env)
        commit = commit_of(args.checkout)
    try:
        wait_healthy(host, port, proc, 900)
        before = load_average()
        # The same cheap mix as under load, so "cheap (all)" weighs the classes alike in both.
        idle = drive(host, port, 1, args.idle_duration, 0, CHEAP, args.timeout, args.seed)
        load = drive(host, port, args.clients, args.duration, args.heavy_every, CHEAP,
                     args.timeout, args.seed)
        text = report(args, f"http://{host}:{port}", commit, idle, load,
                      (before, load_average()))
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if log is not None:
            log.close()
    print(text)
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"load-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.md"
    out.write_text(text + "\n", encoding="utf-8")
    print(f"written to {out}", file=sys.stderr)
    return text


if __name__ == "__main__":
    main()
