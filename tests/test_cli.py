"""The query and cite commands over a built release."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fentanyl_kg import cli
from fentanyl_kg.store import Release


@pytest.fixture()
def out(mini_release: Release) -> str:
    return str(Path(mini_release.path).parent)


def test_query_table_csv_json(runner: CliRunner, out: str) -> None:
    q = ("PREFIX fkg: <https://w3id.org/fentanyl-kg/ontology#> SELECT ?c WHERE "
         "{ ?f fkg:originatesIn ?c } ORDER BY ?c")
    table = runner.invoke(cli.main, ["query", q, "--out", out])
    assert table.exit_code == 0 and "id/mexico" in table.output
    csv = runner.invoke(cli.main, ["query", q, "--format", "csv", "--out", out])
    assert csv.output.splitlines() == ["c", "https://w3id.org/fentanyl-kg/id/mexico",
                                       "https://w3id.org/fentanyl-kg/id/sinaloa"]
    js = runner.invoke(cli.main, ["query", q, "--format", "json", "--out", out])
    assert json.loads(js.output)[0] == {"c": "https://w3id.org/fentanyl-kg/id/mexico"}


def test_query_from_file_and_ask(runner: CliRunner, out: str, tmp_path: Path) -> None:
    f = tmp_path / "q.rq"
    f.write_text("ASK { GRAPH <https://w3id.org/fentanyl-kg/graph/provenance> { ?c ?p ?o } }")
    result = runner.invoke(cli.main, ["query", "--file", str(f), "--out", out])
    assert result.output.strip() == "True"


def test_default_graph_excludes_provenance(runner: CliRunner, out: str) -> None:
    q = "ASK { ?c <http://www.w3.org/ns/prov#wasDerivedFrom> ?s }"
    assert runner.invoke(cli.main, ["query", q, "--out", out]).output.strip() == "False"


def test_bad_query_exits_2(runner: CliRunner, out: str) -> None:
    result = runner.invoke(cli.main, ["query", "SELEC ?x", "--out", out])
    assert result.exit_code == 2 and "does not parse" in result.output


def test_cite_a_figure(runner: CliRunner, out: str) -> None:
    result = runner.invoke(cli.main, ["cite", "--p", "fkg:amount", "--o", "83.5", "--out", out])
    assert result.exit_code == 0, result.output
    assert "source: A test policy brief" in result.output
    assert "locator: web summary" in result.output
    assert "1 claim(s)" in result.output


def test_cite_an_entity_and_a_claim(runner: CliRunner, out: str) -> None:
    result = runner.invoke(cli.main, ["cite", "sinaloa", "--json", "--out", out])
    found = json.loads(result.output)
    assert {c["record_id"] for c in found} == {"sinaloa", "s3"}
    claim = found[0]["claim"]
    again = json.loads(runner.invoke(cli.main, ["cite", claim, "--json", "--out", out]).output)
    assert {c["claim"] for c in again} == {claim}


def test_cite_nothing_found_exits_1(runner: CliRunner, out: str) -> None:
    result = runner.invoke(cli.main, ["cite", "--o", "no such value", "--out", out])
    assert result.exit_code == 1 and "0 claim(s)" in result.output
