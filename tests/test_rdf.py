"""The provenance contract: claim graphs, provenance graph, sources, stable claim IRIs."""

from __future__ import annotations

import random

from rdflib import RDF, URIRef
from rdflib.namespace import DCTERMS, PROV

from fentanyl_kg import bundled, rdf, statements
from fentanyl_kg.namespaces import CLAIM, FKG, ID, ONTOLOGY_GRAPH, PROVENANCE_GRAPH, SOURCE
from paths import MINI


def _built() -> rdf.Built:
    return rdf.to_dataset(statements.load(MINI), bundled.ontology())


def test_one_named_graph_per_claim_with_one_source_and_locator() -> None:
    built = _built()
    ds = built.dataset
    prov = ds.graph(PROVENANCE_GRAPH)
    claims = {g.identifier for g in ds.graphs() if str(g.identifier).startswith(str(CLAIM))}
    assert len(claims) == built.claims == 16
    for c in claims:
        assert len(ds.graph(c)) > 0
        assert len(list(prov.objects(c, PROV.wasDerivedFrom))) == 1
        assert len(list(prov.objects(c, FKG.locator))) == 1
        assert (c, RDF.type, FKG.Claim) in prov
    assert len(list(ds.graph(URIRef("urn:x-rdflib:default")))) == 0


def test_only_the_contract_graphs_hold_triples() -> None:
    ds = _built().dataset
    for g in ds.graphs():
        name = str(g.identifier)
        if len(g) == 0:
            continue
        assert name.startswith(str(CLAIM)) or g.identifier in (PROVENANCE_GRAPH, ONTOLOGY_GRAPH)


def test_claim_iri_depends_on_content_not_order() -> None:
    corpus = statements.load(MINI)
    first = {g.identifier for g in rdf.to_dataset(corpus, bundled.ontology()).dataset.graphs()}
    random.Random(4).shuffle(corpus.records)
    second = {g.identifier for g in rdf.to_dataset(corpus, bundled.ontology()).dataset.graphs()}
    assert first == second
    # Editing a fact changes the claim's IRI; editing its note does not.
    rec = next(r for r in corpus.records if r.id == "s4")
    rec.note = "another note"
    assert {g.identifier for g in rdf.to_dataset(corpus, bundled.ontology()).dataset.graphs()} \
        == first


def test_sources_and_syndicated_copies() -> None:
    prov = _built().dataset.graph(PROVENANCE_GRAPH)
    wire = SOURCE["wire"]
    assert (wire, RDF.type, DCTERMS.BibliographicResource) in prov
    assert str(prov.value(wire, DCTERMS.publisher)) == "The Original Paper"
    copy = prov.value(wire, FKG.consultedCopy)
    assert copy is not None and str(prov.value(copy, DCTERMS.publisher)) == "copysite.example"
    assert str(prov.value(wire, DCTERMS.issued)) == "2025-09-10"
    # the primary source of a figure is recorded beside the claim, not as its source
    primaries = list(prov.subject_objects(FKG.primarySource))
    assert len(primaries) == 1 and primaries[0][1] == wire


def test_quantities_are_typed_nodes_with_exact_figures() -> None:
    ds = _built().dataset
    amounts = {(s, o) for s, p, o, _ in ds.quads((None, FKG.amount, None, None))}
    values = sorted(str(o) for _, o in amounts)
    assert values == ["1100000", "83.5"]
    node = next(s for s, o in amounts if str(o) == "83.5")
    assert any(ds.quads((node, RDF.type, FKG.Quantity, None)))
    assert any(ds.quads((node, FKG.bound, FKG.Exact, None)))
    assert any(ds.quads((ID["conv-2024"], FKG.quantity, node, None)))
