"""Property-based tests of /query/<name>: any parameter values, in any format suffix, give an
answer or a client error of the one shape, never a server error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from hostile_support import PROPERTY, check_answer
from hypothesis import given, settings
from hypothesis import strategies as st
from web_support import close_app, make_app

from fentanyl_kg import bundled

QUERIES = bundled.queries()
PARAMS = sorted({p.name for q in QUERIES.values() for p in q.params} | {"page", "format"})
value = st.one_of(
    st.sampled_from(["sonora", "id:sonora", "<https://w3id.org/fentanyl-kg/id/sonora>",
                     "https://w3id.org/fentanyl-kg/id/mexico", "fkg:Powder", "nope:x", "<>",
                     "<javascript:alert(1)>", "_:b", '"x"@en', "-1", "0", "99999999999", "",
                     "\\u003e", "id:", ":", "<a b>", "source:test-brief"]),
    st.text(max_size=60))


@pytest.fixture(scope="module")
def named_app() -> Iterator[Flask]:
    app = make_app(MAX_ROWS=50)
    yield app
    close_app(app)


@settings(PROPERTY, max_examples=80)
@given(name=st.sampled_from(sorted(QUERIES)), suffix=st.sampled_from(["", ".json", ".csv"]),
       args=st.lists(st.tuples(st.sampled_from(PARAMS), value), max_size=4),
       accept=st.sampled_from(["text/html", "application/json", "*/*", "text/csv", "x/y"]))
def test_any_parameters_of_a_named_query(named_app: Flask, name: str, suffix: str,
                                         args: list[tuple[str, str]], accept: str) -> None:
    resp = named_app.test_client().get(f"/query/{name}{suffix}", query_string=args,
                                       headers={"Accept": accept})
    check_answer(resp)
