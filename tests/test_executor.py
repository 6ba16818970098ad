"""The one execution path (query/executor.py): admission lanes, time and memory limits, the
network block and the queue, on real worker processes serving the web fixture release."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from web_support import close_app, make_app

from fentanyl_kg.query.executor import Call, Failure, Result, WorkerPool

CHEAP = "ASK { id:sonora fkg:locatedIn id:mexico }"
LABELS = "SELECT ?l { id:sonora rdfs:label ?l } ORDER BY ?l"
PRODUCT = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
DOUBLING = ('SELECT (STRLEN(?x28) AS ?n) { BIND("ab" AS ?x0) '
            + " ".join(f"BIND(CONCAT(?x{i}, ?x{i}) AS ?x{i + 1})" for i in range(28)) + " }")
SORTED_PRODUCT = "SELECT * { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?c ?f ?i"
HOLD = "fentanyl_kg.query.diagnostics:hold"


def sparql(client: FlaskClient, query: str, **params: str) -> Any:
    return client.get("/sparql?" + urlencode({"query": query, **params}),
                      headers={"Accept": "application/sparql-results+json"})


def pool_of(app: Flask) -> WorkerPool:
    return app.extensions["fentanyl_kg"].executor  # type: ignore[no-any-return]


def wait_for(check: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the pool did not get there"
        time.sleep(0.05)


def niceness(pool: WorkerPool) -> list[int]:
    """The highest niceness among each worker's threads (a job runs in a thread of its own)."""
    def nice(tid: str) -> int:
        try:
            return os.getpriority(os.PRIO_PROCESS, int(tid))
        except ProcessLookupError:  # a thread that has just ended
            return -20
    return [max(nice(tid) for tid in os.listdir(f"/proc/{w.process.pid}/task"))
            for w in list(pool._alive)]


def assert_limit_503(resp: Any, setting: str) -> None:
    assert resp.status_code == 503, resp.data
    assert setting in resp.json["error"], resp.json
    assert int(resp.headers["Retry-After"]) >= 1


@pytest.fixture(scope="module")
def lanes_app() -> Iterator[Flask]:
    app = make_app(QUERY_WORKERS=4, HEAVY_WORKERS=2, QUERY_TIMEOUT=8, FAST_LANE_SECONDS=0.3)
    pool_of(app).start()
    yield app
    close_app(app)


@pytest.fixture(scope="module")
def small_app() -> Iterator[Flask]:
    """One worker and a one-second limit."""
    app = make_app(QUERY_WORKERS=1, HEAVY_WORKERS=1, QUERY_TIMEOUT=1)
    pool_of(app).start()
    yield app
    close_app(app)


# -- admission lanes ------------------------------------------------------------------------
def test_cheap_queries_succeed_while_the_heavy_lane_is_full(lanes_app: Flask) -> None:
    pool, client = pool_of(lanes_app), lanes_app.test_client()
    heavy: list[tuple[Any, float]] = []

    def run_heavy() -> None:
        started = time.monotonic()
        resp = sparql(lanes_app.test_client(), PRODUCT)
        heavy.append((resp, time.monotonic() - started))

    threads = [threading.Thread(target=run_heavy) for _ in range(2)]
    for t in threads:
        t.start()
    wait_for(lambda: pool.status()["heavy"] == 2, 30)
    # the kernel is told to favour the cheap queries: the heavy workers are reniced
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    assert sorted(niceness(pool)) == [ours, ours, min(19, ours + 10), min(19, ours + 10)]
    for _ in range(20):
        resp = sparql(client, CHEAP)
        assert resp.status_code == 200 and resp.json["boolean"] is True
        resp = sparql(client, LABELS)
        assert resp.status_code == 200 and len(resp.json["results"]["bindings"]) == 3
    assert pool.status()["heavy"] == 2, "the heavy queries should still be running"
    # a third job that turns heavy now is stopped, and says which limit stopped it
    assert_limit_503(sparql(client, PRODUCT.replace("?a", "?z")), "HEAVY_WORKERS")
    wait_for(lambda: pool.status()["idle"] == 2)  # its worker was killed and replaced
    # a job seen heavy before is refused at once, without taking (and losing) a worker
    assert_limit_503(sparql(client, PRODUCT), "HEAVY_WORKERS")
    assert pool.status()["alive"] == 4 and pool.status()["idle"] == 2
    for t in threads:
        t.join(30)
    for resp, seconds in heavy:
        assert_limit_503(resp, "QUERY_TIMEOUT")
        assert seconds < 8 + 2
    # the next jobs run at normal priority again
    wait_for(lambda: pool.status()["alive"] == 4 and pool.status()["idle"] == 4)
    assert sparql(client, CHEAP).status_code == 200
    assert set(niceness(pool)) == {ours}


def test_healthz_answers_while_16_named_queries_run(lanes_app: Flask) -> None:
    results: list[Any] = []

    def named() -> None:
        results.append(lanes_app.test_client().get("/query/entity_statements.json"))

    threads = [threading.Thread(target=named) for _ in range(16)]
    for t in threads:
        t.start()
    health = lanes_app.test_client().get("/healthz")
    running = sum(t.is_alive() for t in threads)
    for t in threads:
        t.join(60)
    assert health.status_code == 200 and health.json["status"] == "ok"
    assert running > 0, "the named queries had all finished before /healthz was asked"
    assert len(results) == 16
    for resp in results:  # run in the workers: answered, or refused by a limit, never a hang
        assert resp.status_code == 200 or "Retry-After" in resp.headers, resp.data
    assert any(resp.status_code == 200 for resp in results)


def test_waiting_for_a_worker_is_bounded(small_app: Flask) -> None:
    """Named queries, /cite and citations=1 run in the workers: with the only worker held,
    each gets 503 + Retry-After within QUERY_TIMEOUT (1 s) + 2 s."""
    pool = pool_of(small_app)
    done: list[Any] = []
    holder = threading.Thread(target=lambda: done.append(pool.run(Call(HOLD, (6.0,)), 30)))
    holder.start()
    wait_for(lambda: pool.status()["idle"] == 0)
    client = small_app.test_client()
    for path in ("/query/entity_statements.json", "/cite.json?s=id:sonora", "/id/sonora",
                 "/sparql?" + urlencode({"query": LABELS, "citations": "1"})):
        started = time.monotonic()
        resp = client.get(path, headers={"Accept": "application/json"})
        assert time.monotonic() - started < 1 + 2
        assert_limit_503(resp, "QUEUE_TIMEOUT")
    holder.join(30)
    assert done == [Result(6.0)]


# -- the time limit ---------------------------------------------------------------------------
def test_a_timed_out_worker_is_killed_so_the_next_answer_is_its_own(small_app: Flask) -> None:
    """With one worker, a worker left running would still be busy with the old query (or
    would answer the next request with its result)."""
    client = small_app.test_client()
    started = time.monotonic()
    assert_limit_503(sparql(client, PRODUCT), "QUERY_TIMEOUT")
    assert time.monotonic() - started < 1 + 2
    wait_for(lambda: pool_of(small_app).status()["idle"] == 1)
    resp = sparql(client, LABELS)
    assert resp.status_code == 200
    assert resp.json["head"]["vars"] == ["l"] and len(resp.json["results"]["bindings"]) == 3


def test_citations_count_against_the_time_limit(small_app: Flask) -> None:
    started = time.monotonic()
    resp = sparql(small_app.test_client(), PRODUCT.replace("(COUNT(*) AS ?n)", "?a"),
                  citations="1")
    assert time.monotonic() - started < 1 + 2
    assert_limit_503(resp, "QUERY_TIMEOUT")


def test_a_deeply_nested_query_with_citations_is_a_400(small_app: Flask) -> None:
    wait_for(lambda: pool_of(small_app).status()["idle"] == 1)
    query = "SELECT ?s WHERE " + "{" * 200 + " ?s ?p ?o " + "}" * 200 + " LIMIT 1"
    resp = sparql(small_app.test_client(), query, citations="1")
    assert resp.status_code == 400 and "too deeply nested to cite" in resp.json["error"]


# -- the network block ------------------------------------------------------------------------
def test_a_query_worker_cannot_open_an_internet_socket(small_app: Flask) -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(0.5)
    try:
        port = srv.getsockname()[1]
        wait_for(lambda: pool_of(small_app).status()["idle"] == 1)
        reply = pool_of(small_app).run(
            Call("fentanyl_kg.query.diagnostics:probe_network", ("127.0.0.1", port)), 20)
        assert isinstance(reply, Result) and reply.value.startswith("blocked:"), reply
        assert "not permitted" in reply.value
        with pytest.raises(TimeoutError):
            srv.accept()  # no connection arrived
    finally:
        srv.close()


def test_only_registered_functions_run_in_a_worker(small_app: Flask) -> None:
    reply = pool_of(small_app).run(Call("os:system", ("true",)), 20)
    assert isinstance(reply, Failure) and reply.status == 500


# -- the memory limit -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def memory_app() -> Iterator[Flask]:
    app = make_app(QUERY_WORKERS=1, WORKER_MEMORY_MB=300, QUERY_TIMEOUT=120)
    pool_of(app).start()
    yield app
    close_app(app)


@pytest.mark.parametrize("query", [DOUBLING, SORTED_PRODUCT], ids=["doubling", "sorted"])
def test_a_query_past_the_memory_limit_is_stopped(memory_app: Flask, query: str) -> None:
    client = memory_app.test_client()
    resp = sparql(client, query)
    assert_limit_503(resp, "WORKER_MEMORY_MB")
    assert "300 MB" in resp.json["error"]
    wait_for(lambda: pool_of(memory_app).status()["idle"] == 1)
    assert sparql(client, CHEAP).json["boolean"] is True


def test_a_runaway_allocation_hits_the_backstop(memory_app: Flask) -> None:
    """RLIMIT_DATA stops an allocation far past the limit at once, before the parent's
    memory watch would see it; the worker reports it the same way."""
    wait_for(lambda: pool_of(memory_app).status()["idle"] == 1)
    reply = pool_of(memory_app).run(Call("fentanyl_kg.query.diagnostics:allocate", (8000,)), 60)
    assert isinstance(reply, Failure) and reply.status == 503, reply
    assert "300 MB (WORKER_MEMORY_MB)" in reply.message


# -- closing ----------------------------------------------------------------------------------
def test_close_drains_running_jobs_then_refuses_new_ones() -> None:
    app = make_app(QUERY_WORKERS=1)
    pool = pool_of(app)
    try:
        pool.start()
        done: list[Any] = []
        job = threading.Thread(target=lambda: done.append(pool.run(Call(HOLD, (1.0,)), 30)))
        job.start()
        wait_for(lambda: pool.status()["idle"] == 0)
        pool.close(drain=20)
        job.join(5)
        assert done == [Result(1.0)]
        assert pool.status()["alive"] == 0
        assert_limit_503(sparql(app.test_client(), CHEAP), "")
        health = app.test_client().get("/healthz")  # every 503 says when to come back
        assert health.status_code == 503 and int(health.headers["Retry-After"]) >= 1
    finally:
        close_app(app)


def test_the_queue_has_a_length_limit() -> None:
    app = make_app(QUERY_WORKERS=1, MAX_QUEUE=1, QUEUE_TIMEOUT=20, QUERY_TIMEOUT=30)
    pool = pool_of(app)
    try:
        pool.start()
        holder = threading.Thread(target=lambda: pool.run(Call(HOLD, (3.0,)), 30))
        holder.start()
        wait_for(lambda: pool.status()["idle"] == 0)
        waiting: list[Any] = []
        waiter = threading.Thread(target=lambda: waiting.append(sparql(app.test_client(),
                                                                       CHEAP)))
        waiter.start()
        wait_for(lambda: pool.status()["waiting"] == 1)
        assert_limit_503(sparql(app.test_client(), CHEAP), "MAX_QUEUE")
        holder.join(30)
        waiter.join(30)
        assert waiting[0].status_code == 200  # the one in the queue got its turn
    finally:
        close_app(app)


def test_a_bug_in_a_job_is_a_500_not_a_hang(small_app: Flask) -> None:
    from fentanyl_kg.query.executor import WorkerCrashed

    pool = pool_of(small_app)
    wait_for(lambda: pool.status()["idle"] == 1)
    with pytest.raises(WorkerCrashed):  # a TypeError in the worker: it exits with code 1
        pool.run(Call(HOLD, ("not a number",)), 600)
    wait_for(lambda: pool.status()["idle"] == 1)
    assert sparql(small_app.test_client(), CHEAP).json["boolean"] is True
