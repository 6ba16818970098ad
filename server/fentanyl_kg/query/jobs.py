"""What the query workers run: a SPARQL query (Job) or a page lookup (Call), and what they send
back (Answer, Result, Failure). Everything here crosses a process boundary, so it is plain,
picklable data: no pyoxigraph terms, no Flask objects."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import pyoxigraph as ox

from fentanyl_kg.errors import QueryError
from fentanyl_kg.query import guard
from fentanyl_kg.web import formats

MAX_MESSAGE = 600  # characters of a parser message passed on to the client
# The functions a Call may name: each takes the store first and returns plain data. A Call
# naming anything else is refused, so a job can never run arbitrary code in a worker.
CALLS = frozenset({
    "fentanyl_kg.web.pagedata:named_query",
    "fentanyl_kg.web.pagedata:cite",
    "fentanyl_kg.web.pagedata:row_citations",
    "fentanyl_kg.web.pagedata:resource",
    "fentanyl_kg.web.pagedata:ontology",
    "fentanyl_kg.web.pagedata:graph",
    "fentanyl_kg.web.pagedata:sources",
    "fentanyl_kg.query.diagnostics:probe_network",
    "fentanyl_kg.query.diagnostics:allocate",
    "fentanyl_kg.query.diagnostics:hold",
})


@dataclass(frozen=True)
class Job:
    """A stranger's SPARQL query, with how to serialize its answer."""

    query: str
    default_graphs: tuple[str, ...] | None  # protocol default-graph-uri values
    named_graphs: tuple[str, ...] | None  # protocol named-graph-uri values
    results_format: str | None  # formats.Format name for SELECT and ASK; None: not acceptable
    graph_format: str | None  # for CONSTRUCT and DESCRIBE
    max_rows: int
    base_iri: str | None
    citations: bool = False  # add the rows' citations to SPARQL JSON results (citations=1)


@dataclass(frozen=True)
class Call:
    """`function(store, *args, **kwargs)` in a worker; `function` is one of CALLS."""

    function: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    kind: str  # "results" (SELECT), "boolean" (ASK) or "graph" (CONSTRUCT, DESCRIBE)
    format: str
    body: bytes
    truncated: bool


@dataclass(frozen=True)
class Result:
    """What a Call returned."""

    value: Any


@dataclass(frozen=True)
class Failure:
    status: int
    message: str


def run(store: ox.Store, job: Job | Call, allowlist: frozenset[str],
        prefixes: dict[str, str]) -> Answer | Result | Failure:
    """Run one job on `store`; what the worker sends back."""
    try:
        if isinstance(job, Call):
            return Result(_function(job.function)(store, *job.args, **job.kwargs))
        return answer(store, job, allowlist, prefixes)
    except QueryError as exc:
        return Failure(exc.status, exc.message)
    except RecursionError:
        return Failure(400, "The query is too deeply nested to analyse.")


def _function(name: str) -> Callable[..., Any]:
    if name not in CALLS:
        raise QueryError(f"{name} is not a function query workers run", 500)
    module, _, attr = name.partition(":")
    return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


def answer(store: ox.Store, job: Job, allowlist: frozenset[str],
           prefixes: dict[str, str]) -> Answer | Failure:
    """Check and run one query on `store`."""
    try:
        guard.check_service(job.query, allowlist, prefixes, job.base_iri)
    except QueryError as exc:
        return Failure(exc.status, exc.message)
    dataset: dict[str, list[ox.NamedNode]] = {}
    if job.default_graphs is not None or job.named_graphs is not None:
        # A protocol dataset replaces the whole default dataset (SPARQL 1.1 Protocol 2.1.4).
        dataset["default_graph"] = [ox.NamedNode(g) for g in job.default_graphs or ()]
        dataset["named_graphs"] = [ox.NamedNode(g) for g in job.named_graphs or ()]
    try:
        result = store.query(job.query, base_iri=job.base_iri, prefixes=prefixes,
                             **dataset)  # type: ignore[arg-type]
        reply = _serialize(result, job)
    except SyntaxError as exc:
        if guard.is_update(job.query):
            return Failure(403, guard.READ_ONLY)
        return Failure(400, f"The query is not valid SPARQL 1.1: {tidy(str(exc))}")
    except OSError as exc:  # pyoxigraph reports a failed SERVICE call (and storage errors) so
        if guard.may_use_service(job.query):
            return Failure(502, f"A SERVICE call failed: {exc}")
        return Failure(500, f"The store could not be read: {exc}")
    return _with_citations(store, job, reply) if job.citations else reply


def _with_citations(store: ox.Store, job: Job, reply: Answer | Failure) -> Answer | Failure:
    """The JSON results with the extra top-level key `citations` (one list per row), computed
    here so that they count against the same time and memory limits as the query."""
    if not isinstance(reply, Answer) or reply.kind != "results":
        return reply
    if reply.format != "json":
        return Failure(400, "citations=1 needs SPARQL JSON results (format=json).")
    data: dict[str, Any] = json.loads(reply.body)
    cite = _function("fentanyl_kg.web.pagedata:row_citations")
    data["citations"] = cite(store, job.query, data["results"]["bindings"])
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return Answer(reply.kind, reply.format, body, reply.truncated)


def tidy(message: str) -> str:
    """pyoxigraph's parser message with its position and expected tokens, but without the long
    Unicode character classes it lists."""
    message = re.sub(r"\[[^\[\]]*\.\.=[^\[\]]*\]", "…", message)
    message = re.sub(r"(, (…|\[_\]))+", ", …", message)
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE] + " …"


def _serialize(result: ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples,
               job: Job) -> Answer | Failure:
    if isinstance(result, ox.QueryTriples):
        if job.graph_format is None:
            return Failure(406, "None of the accepted media types can carry CONSTRUCT or "
                                f"DESCRIBE results; use one of {formats.supported('graph')}.")
        triples = list(islice(result, job.max_rows + 1))
        cut = len(triples) > job.max_rows
        fmt = formats.BY_NAME[job.graph_format]
        body = formats.graph(fmt, triples[:job.max_rows], cut, job.max_rows)
        return Answer("graph", fmt.name, body, cut)
    if job.results_format is None:
        return Failure(406, "None of the accepted media types can carry SELECT or ASK "
                            f"results; use one of {formats.supported('results')}.")
    fmt = formats.BY_NAME[job.results_format]
    if isinstance(result, ox.QueryBoolean):
        return Answer("boolean", fmt.name, formats.boolean(fmt, bool(result)), False)
    variables = [v.value for v in result.variables]
    rows = [tuple(solution) for solution in islice(result, job.max_rows + 1)]
    cut = len(rows) > job.max_rows
    rows = rows[:job.max_rows]
    body = formats.solutions(fmt, variables, rows, cut, job.max_rows)  # type: ignore[arg-type]
    return Answer("results", fmt.name, body, cut)
