"""Named queries from queries/*.rq: their parameters, and running them with bound values.

A query file opens with comment lines:

    # title: Recommendations that target a country
    # description: Each policy recommendation addressed to the country, ...
    # param: country (iri) — the country, as an IRI, prefixed name or entity slug

A parameter names a variable of the query that the query projects (SELECT ?country ...).
Left empty it stays unbound and the query answers for every value; given, it is bound with
pyoxigraph's `substitutions` (SEP-0007), never pasted into the query text. The kind in
parentheses is `iri` (the default), `literal`, or a datatype such as `xsd:gYear`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox

from fentanyl_kg import bundled
from fentanyl_kg.errors import QueryError
from fentanyl_kg.namespaces import ID, PREFIXES
from fentanyl_kg.web.terms import Bindings, Term, default_graph_args, expand, parse_term, to_json

Named = bundled.NamedQuery


def named_queries() -> dict[str, Named]:
    """Every named query, by file stem."""
    return bundled.queries()


def bind(store: ox.Store, query: Named, args: Mapping[str, str]) -> dict[str, Term]:
    """The values given for the query's parameters, as terms; QueryError if one is invalid."""
    out: dict[str, Term] = {}
    for p in query.params:
        raw = (args.get(p.name) or "").strip()
        if not raw:
            continue
        if p.kind == "iri":
            term = parse_term(raw, store)
            if isinstance(term, ox.Literal) and re.match(r"^[a-z0-9][a-z0-9-]*$", raw):
                term = ox.NamedNode(str(ID) + raw)  # a slug that is not in the graph
            if not isinstance(term, ox.NamedNode):
                raise QueryError(f"parameter '{p.name}' needs an IRI, a prefixed name or an "
                                 f"entity slug, not {raw!r}")
        elif p.kind == "literal":
            term = ox.Literal(raw)
        else:
            dtype = expand(p.kind)
            if dtype is None:
                raise QueryError(f"parameter '{p.name}' has an unknown kind '{p.kind}'", 500)
            term = ox.Literal(raw, datatype=dtype)
        out[p.name] = term
    return out


@dataclass
class Result:
    variables: list[str]
    rows: list[dict[str, Term]]
    truncated: bool


def run(store: ox.Store, query: Named, values: Mapping[str, Term], max_rows: int) -> Result:
    """Run a named SELECT over claims + inferred with the values bound; at most max_rows rows
    (then `truncated` is set)."""
    subs: Bindings = {ox.Variable(k): v for k, v in values.items()}
    try:
        res = store.query(query.text, substitutions=subs, prefixes=PREFIXES,
                          **default_graph_args(store))
    except (SyntaxError, RuntimeError) as exc:
        raise QueryError(f"named query '{query.name}' cannot run: {exc}", 500) from None
    if not isinstance(res, ox.QuerySolutions):
        raise QueryError(f"named query '{query.name}' is not a SELECT query", 500)
    variables = [v.value for v in res.variables]
    rows: list[dict[str, Term]] = []
    for sol in res:
        if len(rows) == max_rows:
            return Result(variables, rows, True)
        rows.append({v: sol[v] for v in variables if sol[v] is not None})  # type: ignore
    return Result(variables, rows, False)


def csv_cell(term: Term | None) -> str:
    """A value as SPARQL 1.1 CSV writes it: IRIs and lexical forms, blank nodes as _:x."""
    if term is None:
        return ""
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    return term.value


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_cell(term: Term | None) -> str:
    """csv_cell, made inert for spreadsheets: a value a spreadsheet would run as a formula
    (=, +, -, @, tab or CR first, OWASP's list) gets a leading '; plain numbers stay as they are.
    Only the named-query downloads do this: /sparql CSV stays exactly as SPARQL 1.1 defines it."""
    value = csv_cell(term)
    if value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def json_results(result: Result, citations: list[list[dict[str, Any]]] | None) -> dict[str, Any]:
    """SPARQL 1.1 JSON results, plus `citations` (one list per row) when computed."""
    out: dict[str, Any] = {"head": {"vars": result.variables}, "results": {"bindings": [
        {k: to_json(v) for k, v in row.items()} for row in result.rows]}}
    if result.truncated:
        out["truncated"] = True
    if citations is not None:
        out["citations"] = citations
    return out
