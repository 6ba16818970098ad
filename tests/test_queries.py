"""Named queries: their headers and parameters, and their answers pinned on the real graph."""

from __future__ import annotations

from typing import Any

import pyoxigraph as ox
import pytest
from pages_app import pages_release

from fentanyl_kg.store import Release, load_store
from fentanyl_kg.web import named
from fentanyl_kg.web.cite import row_citations

ID = "https://w3id.org/fentanyl-kg/id/"
FKG = "https://w3id.org/fentanyl-kg/ontology#"
QUERIES = named.named_queries()
Row = dict[str, str]


# -- the files ---------------------------------------------------------------------------------
def test_there_are_at_least_fifteen_named_queries() -> None:
    assert len(QUERIES) >= 15


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_header_and_parameters(name: str) -> None:
    q = QUERIES[name]
    lines = q.text.splitlines()
    assert lines[0].startswith("# title: ") and lines[1].startswith("# description: ")
    assert q.title and len(q.description) > 40
    assert q.params, "each named query takes at least one parameter"
    fixture = load_store(pages_release())
    result = named.run(fixture, q, {}, 100_000)  # parses and runs
    for p in q.params:
        assert p.kind == "iri" and p.meaning
        assert p.name in result.variables, f"parameter ?{p.name} must be projected"


def test_parameters_are_bound_not_pasted(monkeypatch: pytest.MonkeyPatch) -> None:
    fixture = load_store(pages_release())
    q = QUERIES["places_within"]
    seen: list[tuple[str, Any]] = []
    real_query = ox.Store.query

    def spy(self: ox.Store, text: str, **kw: Any) -> Any:
        seen.append((text, kw.get("substitutions")))
        return real_query(self, text, **kw)

    monkeypatch.setattr(ox.Store, "query", spy)
    values = named.bind(fixture, q, {"container": "arizona"})
    rows = named.run(fixture, q, values, 100).rows
    assert {r["place"].value for r in rows} == {ID + "nogales-az", ID + "mariposa-poe"}
    assert seen == [(q.text, {ox.Variable("container"): ox.NamedNode(ID + "arizona")})]


# -- answers on the real graph -----------------------------------------------------------------
@pytest.fixture(scope="module")
def real(real_release: Release) -> ox.Store:
    """The real release with the claims + inferred union as default graph, as /sparql sees it."""
    return load_store(real_release)


def run(store: ox.Store, name: str, **args: str) -> list[Row]:
    """Rows with values shortened: id:x for entities, fkg:X for ontology terms."""
    q = QUERIES[name]
    result = named.run(store, q, named.bind(store, q, args), 100_000)
    assert not result.truncated
    return [{k: short(v) for k, v in row.items()} for row in result.rows]


def short(term: ox.NamedNode | ox.Literal | ox.BlankNode) -> str:
    value = term.value
    for prefix, ns in (("id:", ID), ("fkg:", FKG)):
        if value.startswith(ns):
            return prefix + value[len(ns):]
    return value


def has(rows: list[Row], **expected: str) -> bool:
    return any(all(row.get(k) == v for k, v in expected.items()) for row in rows)


@pytest.mark.slow
def test_region_places_new_golden_triangle(real: ox.Store) -> None:
    rows = run(real, "region_places", region="new-golden-triangle")
    assert {r["place"] for r in rows} == {"id:baja-california", "id:sonora", "id:sinaloa"}
    sinaloa = next(r for r in rows if r["place"] == "id:sinaloa")
    assert int(sinaloa["seizures"]) >= 1 and sinaloa["placeLabel"] == "Sinaloa"
    old = run(real, "region_places", region="old-golden-triangle")
    assert {r["place"] for r in old} == {"id:sinaloa", "id:durango", "id:chihuahua"}


@pytest.mark.slow
def test_firearms_recovered_in_mexico_traced_by_share_and_period(real: ox.Store) -> None:
    rows = run(real, "firearms_traced", destination="mexico")
    # the ATF trafficking assessment as cited by Mexico: 43% Texas, 22% Arizona, 9% California
    for state, share in (("id:texas", "43"), ("id:arizona", "22"), ("id:california", "9")):
        assert has(rows, origin=state, amount=share, unit="fkg:Percent", startYear="2017",
                   endYear="2023")
    assert has(rows, origin="id:united-states", amount="52541", startYear="2015",
               endYear="2022", bound="fkg:Exact")
    assert has(rows, origin="id:united-states", amount="70", bound="fkg:Approximately")
    assert {r["destination"] for r in rows} == {"id:mexico"}


@pytest.mark.slow
def test_ports_of_entry_in_arizona(real: ox.Store) -> None:
    rows = run(real, "port_of_entry_crossings", state="arizona")
    assert {r["state"] for r in rows} == {"id:arizona"}
    assert has(rows, port="id:mariposa-poe", kind="seizure", commodity="id:fentanyl",
               startYear="2019")
    assert has(rows, port="id:lukeville-poe", kind="seizure", startYear="2024")


@pytest.mark.slow
def test_recommendations_that_target_canada(real: ox.Store) -> None:
    rows = run(real, "recommendations_for_country", country="canada")
    gitoc = {r["theme"] for r in rows if r["recommendedBy"] == "id:gi-toc"}
    assert gitoc == {"fkg:DataTransparency", "fkg:PublicHealth", "fkg:TransnationalCooperation",
                     "fkg:EvidenceBasedIntervention", "fkg:BeyondEnforcement"}
    for r in rows:
        if r["recommendedBy"] == "id:gi-toc":
            assert set(r["alsoAddressedTo"].split(", ")) == {"Mexico", "United States"}


@pytest.mark.slow
def test_canada_linked_seizure_figures_keep_every_source(real: ox.Store) -> None:
    rows = run(real, "seizure_figures_by_source", country="canada")
    fentanyl_2024 = [r for r in rows if r["commodity"] == "id:fentanyl" and r["endYear"] ==
                     "2024"]
    assert has(fentanyl_2024, amount="0.74", unit="fkg:Pounds",
               source="id:source/globe2025_canada")
    assert has(fentanyl_2024, amount="22.7", unit="fkg:Kilograms",
               source="id:source/castanet2025_falkland_dea")
    assert all(int(r["figuresForYear"]) >= 2 for r in fentanyl_2024)  # disagreement flagged
    assert all(r["sourceTitle"] and r["locator"] for r in rows)


@pytest.mark.slow
def test_canada_opioid_deaths_keep_disagreeing_figures(real: ox.Store) -> None:
    rows = run(real, "harm_figures", place="canada")
    assert has(rows, amount="52544", unit="fkg:Persons", startYear="2016", endYear="2024")
    assert has(rows, amount="50000", bound="fkg:MoreThan", startYear="2016")
    assert has(rows, amount="53308", startYear="2016", endYear="2025")


@pytest.mark.slow
def test_claims_of_the_founding_brief(real: ox.Store) -> None:
    rows = run(real, "claims_by_source", source="source:gitoc2025_summary")
    ids = {r["recordId"] for r in rows}
    assert {"f001", "f002", "f011"} <= ids
    assert {r["source"] for r in rows} == {"id:source/gitoc2025_summary"}
    assert all(r["locator"] for r in rows)


@pytest.mark.slow
def test_precursors_of_fentanyl(real: ox.Store) -> None:
    rows = run(real, "precursor_chain", drug="fentanyl")
    assert has(rows, precursor="id:4-anpp", immediate="true")
    for earlier in ("id:npp", "id:4-ap", "id:4-piperidone", "id:1-boc-4-piperidone"):
        assert has(rows, precursor=earlier, immediate="false"), earlier


@pytest.mark.slow
def test_where_the_sinaloa_cartel_operates(real: ox.Store) -> None:
    rows = run(real, "organisation_presence", organisation="sinaloa-cartel")
    assert {"id:mexico", "id:united-states"} <= {r["place"] for r in rows}
    assert has(rows, place="id:tucson", country="id:united-states")


@pytest.mark.slow
def test_designations_of_the_sinaloa_cartel(real: ox.Store) -> None:
    rows = run(real, "designations", actor="sinaloa-cartel")
    assert has(rows, designationType="Foreign Terrorist Organization (FTO)",
               startDate="2025-02-20")
    assert has(rows, place="id:canada", startDate="2025-02-20")


@pytest.mark.slow
def test_controls_on_4_anpp(real: ox.Store) -> None:
    rows = run(real, "scheduling_controls", substance="4-anpp")
    assert has(rows, schedule="Table I of the 1988 UN Convention", agency="id:cnd",
               startYear="2017")
    assert has(rows, agency="id:dea", startDate="2010-08-30")


@pytest.mark.slow
def test_flows_from_china(real: ox.Store) -> None:
    rows = run(real, "flows_from_country", country="china")
    assert {"id:mexico", "id:canada"} <= {r.get("destination") for r in rows}
    pacific = next(r for r in rows
                   if r["flow"] == "id:flow-china-mexico-fentanyl-pacific-ports-2019")
    assert {v.split("/")[-1].removeprefix("id:") for v in pacific["route"].split()} == {
        "manzanillo", "lazaro-cardenas"}


@pytest.mark.slow
def test_low_confidence_claims(real: ox.Store) -> None:
    rows = run(real, "claims_below_high_confidence", confidence="fkg:LowConfidence")
    assert {r["confidence"] for r in rows} == {"fkg:LowConfidence"}
    f027 = next(r for r in rows if r["recordId"] == "f027")
    assert f027["note"] and "57%" in f027["text"]
    both = run(real, "claims_below_high_confidence")
    assert {r["confidence"] for r in both} == {"fkg:LowConfidence", "fkg:MediumConfidence"}


@pytest.mark.slow
def test_us_citizens_among_convicted_fentanyl_traffickers(real: ox.Store) -> None:
    rows = run(real, "conviction_statistics", place="united-states")
    assert has(rows, amount="83.5", unit="fkg:Percent", bound="fkg:Exact", startYear="2024",
               offence="fentanyl trafficking")


@pytest.mark.slow
def test_labs_dismantled_in_canada(real: ox.Store) -> None:
    rows = run(real, "lab_dismantlements", place="canada")
    assert has(rows, dismantlement="id:labbust-falkland-superlab-2024-rcmp", agency="id:rcmp",
               laboratories="1", startDate="2024-10-25")


@pytest.mark.slow
def test_figures_from_the_ussc_reached_us_through_gitoc(real: ox.Store) -> None:
    rows = run(real, "secondary_figures", primary="source:prim_ussc_fy2024")
    assert has(rows, recordId="f011", source="id:source/gitoc2025_summary")


@pytest.mark.slow
def test_what_fentanyl_is_cut_with(real: ox.Store) -> None:
    rows = run(real, "adulterants", drug="fentanyl")
    assert {"id:xylazine", "id:medetomidine"} <= {r["adulterant"] for r in rows}
    assert has(rows, adulterant="id:xylazine", amount="23", unit="fkg:Percent",
               startYear="2022")


@pytest.mark.slow
def test_places_inside_arizona(real: ox.Store) -> None:
    rows = run(real, "places_within", container="arizona")
    places = {r["place"] for r in rows}
    assert {"id:nogales-az", "id:mariposa-poe", "id:lukeville-poe", "id:pima-county"} <= places
    assert has(rows, place="id:mariposa-poe", kind="fkg:PortOfEntry", directlyIn="id:nogales-az")


@pytest.mark.slow
def test_purity_of_fentanyl_powder_in_the_us(real: ox.Store) -> None:
    rows = run(real, "market_observations", place="united-states")
    assert has(rows, commodity="id:fentanyl", productForm="fkg:Powder", amount="19.2",
               measure="fkg:Potency", startYear="2022")


@pytest.mark.slow
def test_everything_stated_about_sonora(real: ox.Store) -> None:
    rows = run(real, "entity_statements", entity="sonora")
    assert has(rows, property="fkg:wikidataId", value="Q46422")
    assert has(rows, property="fkg:locatedIn", value="id:mexico")
    assert all(r["sourceTitle"] and r["locator"] for r in rows)


@pytest.mark.slow
def test_pinned_rows_carry_citations(real: ox.Store) -> None:
    q = QUERIES["firearms_traced"]
    result = named.run(real, q, named.bind(real, q, {"destination": "mexico"}), 1000)
    cites = row_citations(real, q.text, result.rows)
    assert len(cites) == len(result.rows) and all(cites)
    texas = next(c for row, c in zip(result.rows, cites, strict=True)
                 if row["origin"].value == ID + "texas" and "amount" in row
                 and row["amount"].value == "43")
    # The 43 % is the figure of the congressional motion (record f184): that claim, with its
    # locator, must be among the row's citations, not just any claim that has a locator.
    assert any(c["record_id"] == "f184" and "motion" in c["text"].lower()
               and c["locator"] == "paragraph 4" for c in texas), \
        [(c["record_id"], c["locator"]) for c in texas]


@pytest.mark.slow
def test_answers_do_not_depend_on_how_the_default_graph_is_built(real_release: Release,
                                                                 real: ox.Store) -> None:
    """The pages' store names the claim graphs as the default graph; /sparql's store holds
    their union in its default graph. Every named query answers the same on both."""
    plain = load_store(real_release, union_default=False)
    for name, q in QUERIES.items():
        values = named.bind(real, q, {"entity": "sonora"} if name == "entity_statements" else {})
        a = named.run(plain, q, values, 100_000).rows
        b = named.run(real, q, values, 100_000).rows
        assert canonical(a) == canonical(b), name


def canonical(rows: list[dict[str, ox.NamedNode | ox.Literal | ox.BlankNode]]) -> list[str]:
    """Rows as sorted strings; GROUP_CONCAT lists, whose order SPARQL leaves open, sorted too."""
    def value(v: ox.NamedNode | ox.Literal | ox.BlankNode) -> str:
        parts = v.value.replace("; ", " ").replace(", ", " ").split()
        return " ".join(sorted(parts))
    return sorted(str(sorted((k, value(v)) for k, v in row.items())) for row in rows)
