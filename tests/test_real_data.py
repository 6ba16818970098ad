"""The real graph_data/ builds, conforms, and answers the questions the founding brief raises."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from fentanyl_kg import cli, store
from fentanyl_kg.store import Release

PREFIXES = """PREFIX fkg: <https://w3id.org/fentanyl-kg/ontology#>
PREFIX id: <https://w3id.org/fentanyl-kg/id/>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
"""
PROV = "<https://w3id.org/fentanyl-kg/graph/provenance>"
INFERRED = "<https://w3id.org/fentanyl-kg/graph/inferred>"


@pytest.fixture(scope="module")
def st(real_release: Release) -> ox.Store:
    return store.load_store(real_release)


def ask(st: ox.Store, body: str, graph: str | None = None) -> bool:
    q = PREFIXES + (f"ASK {{ GRAPH {graph} {{ {body} }} }}" if graph else f"ASK {{ {body} }}")
    return bool(st.query(q))


def test_real_data_builds_with_enough_claims(real_release: Release) -> None:
    c = real_release.counts
    assert c["claims"] >= 200
    assert c["sources"] >= 100 and c["entities"] >= 100
    assert c["inferred_triples"] > 0


def test_every_claim_graph_has_one_source_and_a_locator(st: ox.Store) -> None:
    q = PREFIXES + f"""SELECT ?g (COUNT(DISTINCT ?src) AS ?n) (COUNT(DISTINCT ?loc) AS ?l) WHERE {{
        GRAPH ?g {{ ?s ?p ?o }}
        FILTER(STRSTARTS(STR(?g), "https://w3id.org/fentanyl-kg/id/claim/"))
        OPTIONAL {{ GRAPH {PROV} {{ ?g prov:wasDerivedFrom ?src }} }}
        OPTIONAL {{ GRAPH {PROV} {{ ?g fkg:locator ?loc }} }}
    }} GROUP BY ?g HAVING (?n != 1 || ?l != 1)"""
    assert list(st.query(q)) == []


@pytest.mark.parametrize(("body", "what"), [
    ("?x fkg:amount 83.5 . ?c fkg:quantity ?x ; a fkg:ConvictionStatistic",
     "83.5% of convicted fentanyl traffickers were US citizens"),
    ("?x fkg:amount ?v ; fkg:bound fkg:MoreThan . ?h fkg:quantity ?x ; "
     "fkg:place id:united-states FILTER(?v = 1100000)", ">1.1 million US deaths"),
    ("?x fkg:amount ?v ; fkg:bound fkg:MoreThan . ?h fkg:quantity ?x ; fkg:place id:canada "
     "FILTER(?v = 50000)", ">50,000 Canadian deaths"),
    ("id:new-golden-triangle fkg:spans id:baja-california, id:sonora, id:sinaloa",
     "the new golden triangle"),
    ("?f a fkg:TraffickingFlow ; fkg:commodity id:firearms ; fkg:origin id:arizona ; "
     "fkg:destination id:mexico", "firearms from Arizona to Mexico"),
])
def test_founding_brief_facts(st: ox.Store, body: str, what: str) -> None:
    assert ask(st, body), what


@pytest.mark.parametrize("theme", ["DataTransparency", "PublicHealth", "TransnationalCooperation",
                                   "EvidenceBasedIntervention", "BeyondEnforcement"])
def test_recommendations_to_all_three_countries(st: ox.Store, theme: str) -> None:
    assert ask(st, f"?r a fkg:PolicyRecommendation ; fkg:theme fkg:{theme} ; "
               "fkg:targetCountry id:mexico, id:united-states, id:canada ; "
               "fkg:recommendedBy id:gi-toc")


def test_disagreeing_sources_are_kept_apart(st: ox.Store) -> None:
    # Three different figures for Canada-linked fentanyl seized in 2024, each with its own source.
    q = PREFIXES + f"""SELECT DISTINCT ?src WHERE {{
        GRAPH ?g {{ ?x fkg:amount ?v }}
        GRAPH {PROV} {{ ?g prov:wasDerivedFrom ?src }}
        VALUES (?v) {{ (0.74) (43) (22.7) }}
    }}"""
    sources = {row["src"].value.rsplit("/", 1)[-1] for row in st.query(q)}
    assert {"globe2025_canada", "castanet2025_falkland_dea"} <= sources
    assert len(sources) >= 3


@pytest.mark.parametrize(("given", "inferred", "axiom"), [
    ("", "id:mariposa-poe fkg:locatedIn id:united-states", "transitive locatedIn"),
    ("", "id:united-states fkg:contains id:nogales-az", "inverse of locatedIn"),
    ("", "id:culiacan fkg:locatedIn id:mexico", "transitive locatedIn (city -> country)"),
    ("?f fkg:origin id:sonora", "?f fkg:originatesIn id:mexico", "origin o locatedIn chain"),
    ("id:4-anpp fkg:immediatePrecursorOf id:fentanyl", "id:fentanyl fkg:hasPrecursor id:4-anpp",
     "inverse of precursorOf, via its subproperty"),
    ("", "id:fentanyl a fkg:Opioid", "subclass: synthetic opioid is an opioid"),
    ("", "id:sinaloa-cartel a fkg:Actor", "subclass: criminal organisation is an actor"),
    ("", "id:los-chapitos <http://www.w3.org/ns/org#subOrganizationOf> id:sinaloa-cartel",
     "subproperty: factionOf"),
])
def test_axioms_produce_inferences_on_real_data(st: ox.Store, given: str, inferred: str,
                                                axiom: str) -> None:
    # The premise is asserted (in a claim graph); the conclusion is only in the inferred graph.
    assert ask(st, f"{given} GRAPH {INFERRED} {{ {inferred} }}"), axiom
    assert not ask(st, f"GRAPH ?g {{ {inferred} }} FILTER(?g != {INFERRED})"), axiom


def test_cite_finds_the_83_5_percent_figure(runner: CliRunner, real_release: Release) -> None:
    out = str(Path(real_release.path).parent)
    result = runner.invoke(cli.main, ["cite", "--p", "fkg:amount", "--o", "83.5", "--out", out])
    assert result.exit_code == 0, result.output
    assert "Unregulated fentanyl in North America" in result.output
    assert "locator: web summary" in result.output
    assert "primary source: https://w3id.org/fentanyl-kg/id/source/prim_ussc_fy2024" \
        in result.output
