"""Citation lookup: supporting claims, derivations of inferred triples, and row citations."""

from __future__ import annotations

from typing import Any

import pyoxigraph as ox
import pytest
from pages_app import FKG, ID, pages_release

from fentanyl_kg.store import load_store
from fentanyl_kg.web import rowcite
from fentanyl_kg.web.cite import Citer, derivation_json, row_citations, supporting_claims
from fentanyl_kg.web.derive import Deriver
from fentanyl_kg.web.terms import INFERRED, ONTOLOGY, RDF_TYPE, claim_graphs, to_json

PREFIXES = """PREFIX fkg: <https://w3id.org/fentanyl-kg/ontology#>
PREFIX id: <https://w3id.org/fentanyl-kg/id/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
"""


def n(local: str) -> ox.NamedNode:
    return ox.NamedNode(ID + local)


def f(local: str) -> ox.NamedNode:
    return ox.NamedNode(FKG + local)


@pytest.fixture(scope="module")
def store() -> ox.Store:
    return load_store(pages_release())


def records(claims: list[dict[str, Any]]) -> set[str]:
    return {c["record_id"] for c in claims}


def select(store: ox.Store, query: str) -> list[dict[str, ox.NamedNode | ox.Literal]]:
    res = store.query(PREFIXES + query, default_graph=[*claim_graphs(store), INFERRED])
    return [{v.value: r[v] for v in res.variables if r[v] is not None}  # type: ignore
            for r in res]  # type: ignore[union-attr]


# -- supporting claims -----------------------------------------------------------------------
def test_an_asserted_triple_cites_every_claim_that_states_it(store: ox.Store) -> None:
    claims = supporting_claims(store, n("sinaloa-cartel"), f("operatesIn"), n("sonora"))
    assert records(claims) == {"cartel-in-sonora-brief", "cartel-in-sonora-news"}
    by_id = {c["record_id"]: c for c in claims}
    news = by_id["cartel-in-sonora-news"]
    assert news["source"] == ID + "source/pnews"
    assert news["source_title"] == "A syndicated news story"
    assert news["locator"] == "paragraph 4"
    assert news["confidence"] == "medium"
    assert news["note"] == "Agrees with the brief."
    assert news["claim"].startswith(ID + "claim/")
    assert news["supports"] == [{"s": to_json(n("sinaloa-cartel")), "p": to_json(f("operatesIn")),
                                 "o": to_json(n("sonora")), "inferred": False}]
    assert by_id["cartel-in-sonora-brief"]["source_url"] == "https://example.org/brief"


def test_an_open_pattern_returns_the_claims_of_every_match(store: ox.Store) -> None:
    claims = supporting_claims(store, None, f("immediatePrecursorOf"), None)
    assert records(claims) == {"npp-to-4anpp", "4anpp-to-fentanyl"}


def test_primary_source_is_reported(store: ox.Store) -> None:
    claims = supporting_claims(store, n("flow-arizona-firearms"), f("origin"), None)
    assert [c["primary_source"] for c in claims] == [ID + "source/pbrief"]
    assert claims[0]["source"] == ID + "source/pnews"


def test_an_inferred_triple_cites_the_claims_it_derives_from(store: ox.Store) -> None:
    claims = supporting_claims(store, n("mexico"), f("contains"), n("culiacan"))
    assert records(claims) == {"sinaloa-contains-culiacan", "sinaloa"}
    assert all(s["inferred"] for c in claims for s in c["supports"])


def explain(store: ox.Store, s: ox.NamedNode, p: ox.NamedNode, o: ox.NamedNode) -> dict[str, Any]:
    citer = Citer(store)
    ts = citer.support((s, p, o))
    assert ts is not None and ts.inferred and ts.derivations
    return derivation_json(ts.derivations[0], citer)


def rules(d: dict[str, Any]) -> list[str]:
    """The rules of a derivation tree, depth first."""
    out = [d["rule"]]
    for p in d["premises"]:
        if p["derivation"]:
            out += rules(p["derivation"])
    return out


def test_located_in_chain_through_an_inverse_is_followed(store: ox.Store) -> None:
    d = explain(store, n("mexico"), f("contains"), n("culiacan"))
    assert rules(d) == ["inverse", "transitive", "inverse"]
    assert "inverse" in d["because"]


def test_transitive_path_lists_every_asserted_edge(store: ox.Store) -> None:
    d = explain(store, n("mariposa-poe"), f("locatedIn"), n("united-states"))
    assert d["rule"] == "transitive"
    edges = {(p["s"]["value"], p["o"]["value"]) for p in d["premises"]}
    assert edges == {(ID + "mariposa-poe", ID + "nogales-az"), (ID + "nogales-az", ID + "arizona"),
                     (ID + "arizona", ID + "united-states")}
    assert all(p["claims"] for p in d["premises"])


def test_property_chain_origin_then_located_in(store: ox.Store) -> None:
    d = explain(store, n("flow-sinaloa-fentanyl"), f("originatesIn"), n("mexico"))
    assert d["rule"] == "chain"
    assert [p["p"]["value"] for p in d["premises"]] == [FKG + "origin", FKG + "locatedIn"]


def test_subproperty_inside_a_transitive_chain(store: ox.Store) -> None:
    d = explain(store, n("npp"), f("precursorOf"), n("fentanyl"))
    assert rules(d) == ["transitive", "subproperty", "subproperty"]


def test_subclass_type_and_symmetric(store: ox.Store) -> None:
    assert explain(store, n("sonora"), RDF_TYPE, f("Place"))["rule"] == "subclass"
    d = explain(store, n("arizona"), f("bordersOn"), n("sonora"))
    assert d["rule"] == "symmetric"
    assert d["premises"][0]["s"]["value"] == ID + "sonora"


def tiny_store() -> ox.Store:
    """A hand-made store for the domain and range rules, which the fixture does not need."""
    s = ox.Store()
    ex = "http://example.org/"
    rdfs = "http://www.w3.org/2000/01/rdf-schema#"
    claim = ox.NamedNode(ID + "claim/0000000000000001")
    axioms = [(ex + "p", rdfs + "domain", ex + "A"), (ex + "p", rdfs + "range", ex + "B"),
              (ex + "B", rdfs + "subClassOf", ex + "C")]
    for sub, pred, obj in axioms:
        s.add(ox.Quad(ox.NamedNode(sub), ox.NamedNode(pred), ox.NamedNode(obj), ONTOLOGY))
    s.add(ox.Quad(ox.NamedNode(ex + "x"), ox.NamedNode(ex + "p"), ox.NamedNode(ex + "y"), claim))
    for who, cls in (("x", "A"), ("y", "B"), ("y", "C")):
        s.add(ox.Quad(ox.NamedNode(ex + who), RDF_TYPE, ox.NamedNode(ex + cls), INFERRED))
    return s


def test_domain_and_range_rules() -> None:
    s = tiny_store()
    d = Deriver(s)
    ex = "http://example.org/"
    (dom,) = d.explain((ox.NamedNode(ex + "x"), RDF_TYPE, ox.NamedNode(ex + "A")))
    assert dom.rule == "domain" and dom.claims() == [ID + "claim/0000000000000001"]
    (rng,) = d.explain((ox.NamedNode(ex + "y"), RDF_TYPE, ox.NamedNode(ex + "C")))
    assert rng.rule == "range"


def test_unexplained_inferred_triple_gets_no_derivation() -> None:
    s = tiny_store()
    ex = "http://example.org/"
    t = (ox.NamedNode(ex + "z"), ox.NamedNode(ex + "q"), ox.NamedNode(ex + "w"))
    s.add(ox.Quad(*t, INFERRED))
    assert Deriver(s).explain(t) == []
    assert supporting_claims(s, *t) == []


# -- row citations ---------------------------------------------------------------------------
def test_rows_cite_the_triples_of_unprojected_variables(store: ox.Store) -> None:
    q = ('SELECT ?label WHERE { ?s fkg:locatedIn id:mexico ; rdfs:label ?label '
         'FILTER(lang(?label) = "en") } ORDER BY ?label')
    rows = select(store, q)
    cites = row_citations(store, PREFIXES + q, rows)
    by_label = {r["label"].value: records(c) for r, c in zip(rows, cites, strict=True)}
    assert by_label["Sonora"] == {"sonora"}
    # Culiacán is in Mexico only by inference: the claims it derives from are cited.
    assert by_label["Culiacán"] == {"culiacan", "sinaloa", "sinaloa-contains-culiacan"}


def test_sparql_json_rows_work_like_term_rows(store: ox.Store) -> None:
    q = "SELECT ?s WHERE { ?s fkg:operatesIn id:sonora }"
    rows = select(store, q)
    as_json = [{k: to_json(v) for k, v in r.items()} for r in rows]
    assert row_citations(store, PREFIXES + q, rows) == row_citations(store, PREFIXES + q, as_json)
    assert records(row_citations(store, PREFIXES + q, as_json)[0]) == {
        "cartel-in-sonora-brief", "cartel-in-sonora-news"}


def test_graph_variable_cites_only_that_claim(store: ox.Store) -> None:
    q = "SELECT ?g WHERE { GRAPH ?g { ?s fkg:operatesIn id:sonora } }"
    rows = select(store, q)
    cites = row_citations(store, PREFIXES + q, rows)
    assert sorted(len(c) for c in cites) == [1, 1]
    for row, c in zip(rows, cites, strict=True):
        assert c[0]["claim"] == row["g"].value


def test_aggregate_rows_cite_the_grouped_triples(store: ox.Store) -> None:
    q = "SELECT ?place (COUNT(?x) AS ?n) WHERE { ?x fkg:locatedIn+ ?place } GROUP BY ?place"
    rows = select(store, q)
    cites = row_citations(store, PREFIXES + q, rows)
    by_place = {r["place"].value: records(c) for r, c in zip(rows, cites, strict=True)}
    assert by_place[ID + "arizona"] == {"nogales-az", "mariposa-poe"}


def test_filters_and_minus_are_not_cited(store: ox.Store) -> None:
    q = ("SELECT ?s WHERE { ?s a fkg:Country MINUS { ?s fkg:wikidataId ?w } "
         "FILTER NOT EXISTS { ?s fkg:locatedIn ?x } }")
    rows = select(store, q)
    cites = row_citations(store, PREFIXES + q, rows)
    for c in cites:
        assert all(s["p"]["value"] == RDF_TYPE.value for claim in c for s in claim["supports"])


def test_unreadable_queries_flag_every_row_incomplete(store: ox.Store) -> None:
    rows: list[dict[str, Any]] = [{"s": to_json(n("sonora"))}]
    result = rowcite.cite_rows(store, "SELECT ?s WHERE { ?s nope:p ?o }", rows)
    assert result.rows == [[]] and result.incomplete == [0]
    assert "unknown prefix nope" in result.notes[0]
    assert rowcite.cite_rows(store, "SELECT ?s WHERE { ?s ?p", rows).incomplete == [0]


def test_a_row_over_budget_is_flagged_not_hidden(store: ox.Store,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rowcite, "MAX_READS", 3)
    q = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    result = rowcite.cite_rows(store, PREFIXES + q, select(store, q))
    assert result.incomplete == [0]
