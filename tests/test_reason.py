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
