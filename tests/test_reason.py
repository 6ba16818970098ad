"""Each OWL 2 RL axiom we chose adds its conclusion, and only new, non-trivial triples are kept."""

from __future__ import annotations

import pytest
from rdflib import RDF, Graph
from rdflib.namespace import OWL

from fentanyl_kg import bundled, rdf, reason, statements
from fentanyl_kg.namespaces import FKG, ID
from paths import MINI


@pytest.fixture(scope="module")
def inferred() -> Graph:
    built = rdf.to_dataset(statements.load(MINI), bundled.ontology())
    result = reason.infer(built.dataset, bundled.ontology())
    assert result.inconsistencies == []
    return result.graph


@pytest.mark.parametrize(("triple", "axiom"), [
    ((ID["mariposa-poe"], FKG.locatedIn, ID["united-states"]), "transitive locatedIn"),
    ((ID["united-states"], FKG.contains, ID["nogales-az"]), "inverse of locatedIn"),
    ((ID["flow-sinaloa-fentanyl"], FKG.originatesIn, ID["mexico"]), "origin o locatedIn chain"),
    ((ID["flow-sinaloa-fentanyl"], FKG.endsIn, ID["united-states"]), "destination chain"),
    ((ID["npp"], FKG.precursorOf, ID["fentanyl"]), "immediate precursor + transitivity"),
    ((ID["fentanyl"], FKG.hasPrecursor, ID["npp"]), "inverse of precursorOf"),
    ((ID["fentanyl"], RDF.type, FKG.Opioid), "subclass"),
    ((ID["test-institute"], RDF.type, FKG.Actor), "subclass chain"),
])
def test_axiom_adds_its_conclusion(inferred: Graph, triple: tuple, axiom: str) -> None:
    assert triple in inferred, axiom


def test_only_new_non_trivial_conclusions(inferred: Graph) -> None:
    built = rdf.to_dataset(statements.load(MINI), bundled.ontology())
    asserted = reason.asserted(built.dataset)
    assert not any(t in asserted for t in inferred)
    assert not any(p == OWL.sameAs for _, p, _ in inferred)
    assert all(str(s).startswith(str(ID)) for s, _, _ in inferred)


def test_disjoint_classes_are_reported(tmp_path) -> None:
    import shutil
    data = tmp_path / "data"
    shutil.copytree(MINI, data)
    (data / "statements" / "zz.yaml").write_text(
        "- id: bad\n  subject: fentanyl\n  text: x\n  source: brief\n  locator: p 1\n"
        "  rdf:type: fkg:Country\n", encoding="utf-8")
    ontology = bundled.ontology()
    ontology.add((RDF.type, RDF.type, OWL.ObjectProperty))  # let the file use rdf:type
    built = rdf.to_dataset(statements.load(data), ontology)
    result = reason.infer(built.dataset, bundled.ontology())
    assert any("fentanyl" in m for m in result.inconsistencies), result.inconsistencies


def _tree_with(tmp_path, name: str, content: str):  # type: ignore[no-untyped-def]
    import shutil
    data = tmp_path / "data"
    shutil.copytree(MINI, data)
    (data / "statements" / name).write_text(content, encoding="utf-8")
    return data


CYCLE = "".join(
    f"- id: loop-{i}\n  subject: {a}\n  text: {a} is a precursor of {b}.\n  source: brief\n"
    f"  locator: page {i}\n  precursorOf: {b}\n"
    for i, (a, b) in enumerate([("npp", "4-anpp"), ("4-anpp", "fentanyl"),
                                ("fentanyl", "npp")], start=1))


def test_a_cycle_of_a_transitive_property_is_a_data_error(tmp_path, runner) -> None:  # type: ignore[no-untyped-def]
    """precursorOf is transitive: a 3-cycle made the closure publish `x precursorOf x`, which
    the shapes forbid when asserted. It is now an error naming every record of the loop."""
    from fentanyl_kg import cli
    data = _tree_with(tmp_path, "zz_cycle.yaml", CYCLE)
    result = runner.invoke(cli.main, ["build", "--data", str(data), "--out",
                                      str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    zz = data / "statements" / "zz_cycle.yaml"
    assert "cycle through the transitive property fkg:precursorOf" in result.output
    for rid, line in (("loop-1", 1), ("loop-2", 7), ("loop-3", 13)):
        assert f"'{rid}' at {zz}:{line}" in result.output, result.output
    assert not (tmp_path / "out" / "release").exists()


def test_cycle_through_an_inverse_property(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """locatedIn and contains are inverses: a contains b and a locatedIn b is a loop too."""
    from fentanyl_kg.errors import StatementErrors
    data = _tree_with(tmp_path, "zz_inverse.yaml", (
        "- id: inv-1\n  subject: arizona\n  text: Arizona contains the US.\n  source: brief\n"
        "  locator: p 1\n  contains: united-states\n"))
    with pytest.raises(StatementErrors, match="fkg:(locatedIn|contains): arizona"):
        rdf.to_dataset(statements.load(data), bundled.ontology())


def chain(n: int) -> str:
    """n places, each located in the next: the closure grows with n squared."""
    return "".join(f"- id: chain-{i}\n  subject: chain-{i}\n  type: Place\n"
                   f"  label: {{en: Chain {i}}}\n  text: Place {i}.\n  source: brief\n"
                   f"  locator: p {i}\n" + (f"  locatedIn: chain-{i + 1}\n" if i + 1 < n else "")
                   for i in range(n))


def test_reasoning_budget_stops_a_runaway_closure(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fentanyl_kg.errors import ReasoningBudgetExceeded
    built = rdf.to_dataset(statements.load(_tree_with(tmp_path, "zz_chain.yaml", chain(40))),
                           bundled.ontology())
    with pytest.raises(ReasoningBudgetExceeded) as info:
        reason.infer(built.dataset, bundled.ontology(), reason.Budget(triples=3500))
    message = info.value.messages[0]
    # The mini tree alone adds ~2,750 triples; the chain's 40 * 39 links are what is cut.
    assert "stopped after more than 3,500 new triples (the reasoning budget)" in message
    assert "fkg:locatedIn" in message or "fkg:contains" in message


def test_reasoning_budget_fails_the_build_with_exit_1(tmp_path, runner, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from fentanyl_kg import cli
    monkeypatch.setattr(reason, "BUDGET", reason.Budget(triples=3500))
    data = _tree_with(tmp_path, "zz_chain.yaml", chain(40))
    result = runner.invoke(cli.main, ["build", "--data", str(data), "--out",
                                      str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert "OWL 2 RL reasoning stopped after more than 3,500 new triples" in result.output
