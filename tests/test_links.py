"""Identifier links: skos:exactMatch IRIs derived from ids, their coverage, and their tables."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from bundled_graphs import ontology
from rdflib import RDF, Literal, URIRef
from rdflib.namespace import SKOS

from fentanyl_kg import build, links, rdf, statements
from fentanyl_kg.errors import StatementErrors
from fentanyl_kg.importers import idtables
from fentanyl_kg.namespaces import FKG, ID
from paths import MINI, REAL, SHARED

EXTERNAL = SHARED / "external"
NE1 = EXTERNAL / "natural_earth_admin/ne_10m_admin_1_states_provinces_US_MX_CA.csv"
NE0 = EXTERNAL / "natural_earth_admin/ne_110m_admin_0_countries_selected.csv"
HOME = {ID["mexico"], ID["united-states"], ID["canada"]}
WIKIDATA = "http://www.wikidata.org/entity/"
GEONAMES = "https://sws.geonames.org/"


@pytest.fixture(scope="module")
def real() -> rdf.Built:
    return rdf.to_dataset(statements.load(REAL), ontology())


def _values(built: rdf.Built, s: URIRef, p: URIRef) -> set[str]:
    return {str(o) for _, _, o, _ in built.dataset.quads((s, p, None, None))}


def _divisions(built: rdf.Built) -> list[URIRef]:
    ds = built.dataset
    return sorted({s for s, _, _, _ in ds.quads((None, RDF.type, FKG.FirstLevelDivision, None))
                   if any(o in HOME for _, _, o, _ in ds.quads((s, FKG.locatedIn, None, None)))})


def test_an_id_becomes_an_exact_match_in_its_own_claim_graph() -> None:
    built = rdf.to_dataset(statements.load(MINI), ontology())
    mexico = ID["mexico"]
    [(_, _, _, claim)] = built.dataset.quads((mexico, FKG.wikidataId, Literal("Q96"), None))
    graph = built.dataset.graph(claim)
    assert (mexico, SKOS.exactMatch, URIRef(WIKIDATA + "Q96")) in graph
    # Every link shares a claim graph with the literal id it was made from.
    for s, _, o, g in built.dataset.quads((None, SKOS.exactMatch, None, None)):
        assert str(o).startswith((WIKIDATA, GEONAMES))
        ids = {str(v) for v in built.dataset.graph(g).objects(s, None) if isinstance(v, Literal)}
        assert str(o).removeprefix(WIKIDATA).removeprefix(GEONAMES).rstrip("/") in ids


def test_an_id_that_cannot_be_an_iri_is_a_located_error(tmp_path: Path) -> None:
    tree = tmp_path / "data"
    shutil.copytree(MINI, tree)
    (tree / "statements" / "zz.yaml").write_text(
        "- id: bad-qid\n  subject: mexico\n  text: A QID with a space.\n  source: brief\n"
        "  locator: page 1\n  wikidataId: Q 96\n", encoding="utf-8")
    with pytest.raises(StatementErrors) as exc:
        rdf.to_dataset(statements.load(tree), ontology())
    [err] = exc.value.errors
    assert err.path.name == "zz.yaml" and err.line == 1 and "link IRI" in err.message


def test_the_ontology_is_the_one_source_of_link_templates() -> None:
    templates = links.iri_templates(ontology())
    assert templates == {FKG.wikidataId: WIKIDATA + "$1", FKG.geonamesId: GEONAMES + "$1/"}


def test_check_prints_link_coverage_per_class() -> None:
    lines: list[str] = []
    build.check(MINI, progress=lines.append)
    assert "links: Country 1/2 iso3166Code, 1/2 wikidataId" in lines


def test_every_state_and_province_has_qid_iso_and_geonames_links(real: rdf.Built) -> None:
    divisions = _divisions(real)
    assert len(divisions) == 40
    missing = []
    for s in divisions:
        qids, iso, gn = (_values(real, s, p) for p in (FKG.wikidataId, FKG.iso3166Code,
                                                      FKG.geonamesId))
        match = _values(real, s, SKOS.exactMatch)
        if not (qids and iso and gn and {WIKIDATA + q for q in qids} <= match
                and {f"{GEONAMES}{g}/" for g in gn} <= match):
            missing.append(str(s))
    assert missing == []
    assert "links: FirstLevelDivision 40/41 geonamesId" in " ".join(
        links.coverage(real.dataset, ontology()))


def test_the_three_countries_have_qid_and_iso_code(real: rdf.Built) -> None:
    for s in HOME:
        assert _values(real, s, FKG.wikidataId) and _values(real, s, FKG.iso3166Code)
        assert any(m.startswith(WIKIDATA) for m in _values(real, s, SKOS.exactMatch))


def test_every_exact_match_is_its_literal_id_through_the_template(real: rdf.Built) -> None:
    templates = links.iri_templates(ontology())
    ds = real.dataset
    expected = {(s, str(links.link_iri(templates[p], str(o))), g)  # type: ignore[index]
                for s, p, o, g in ds.quads((None, None, None, None)) if p in templates}
    found = {(s, str(o), g) for s, _, o, g in ds.quads((None, SKOS.exactMatch, None, None))}
    assert found == expected and len(found) > 100


def _ne_rows(path: Path) -> dict[str, dict[str, str]]:
    out = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            out[r.get("iso_3166_2") or r["ISO_A2"]] = r
    return out


def test_state_and_country_ids_agree_with_the_reference_tables(real: rdf.Built) -> None:
    ne1, ne0 = _ne_rows(NE1), _ne_rows(NE0)
    pycountry = {e["code"] for e in json.loads(
        (EXTERNAL / "iso3166_pycountry/iso3166-2_US_MX_CA.json").read_text())["3166-2"]}
    admin1 = {line.split("\t")[3] for line in (
        EXTERNAL / "geonames_admin/admin1CodesASCII_US_MX_CA.txt").read_text().splitlines()}
    for s in _divisions(real):
        [iso] = _values(real, s, FKG.iso3166Code)
        row = ne1[{"MX-CMX": "MX-DIF"}.get(iso, iso)]
        assert iso in pycountry
        assert _values(real, s, FKG.wikidataId) == {row["wikidataid"]}, s
        assert _values(real, s, FKG.geonamesId) == {row["gn_id"]} and row["gn_id"] in admin1, s
    for s in HOME | {ID["china"], ID["india"]}:
        [iso] = _values(real, s, FKG.iso3166Code)
        assert _values(real, s, FKG.wikidataId) == {ne0[iso]["WIKIDATAID"]}


TABLES = {
    "ids_naturalearth_admin1": NE1,
    "ids_ofac_sdn_2024": EXTERNAL / "ofac_sdn_narcotics_entities/"
                                    "sdn_narcotics_entities_2024-05-03.csv",
}


def _line(path: Path, n: int) -> str:
    return path.read_text(encoding="latin-1" if "ofac" in str(path) else "utf-8") \
        .splitlines()[n - 1]


def test_each_generated_id_is_in_the_table_row_its_locator_names() -> None:
    records = [r for f in sorted((REAL / "statements").glob("links_*.yaml"))
               for r in yaml.safe_load(f.read_text(encoding="utf-8"))]
    assert len(records) >= 18
    for r in records:
        m = re.match(r"^line (\d+)(?: of (\S+))? \(", r["locator"])
        assert m, r["locator"]
        if r["source"] == "ids_geonames_admin":
            path = EXTERNAL / "geonames_admin" / str(m.group(2))
        else:
            path = TABLES[r["source"]]
        line = _line(path, int(m.group(1)))
        ids = {k: v for k, v in r.items() if k not in statements.RESERVED}
        assert ids and all(isinstance(v, str) for v in ids.values()), r["id"]
        for value in ids.values():
            assert re.search(rf'(^|[,\t"]){re.escape(value)}([,\t"]|$)', line), (r["id"], value)


def test_the_committed_link_records_are_what_the_generator_writes(tmp_path: Path) -> None:
    tree = tmp_path / "data"
    shutil.copytree(REAL, tree)
    result = idtables.generate(SHARED, tree)
    idtables.write(result, tree)
    for f in sorted((REAL / "statements").glob("links_*.yaml")):
        assert (tree / "statements" / f.name).read_text(encoding="utf-8") == \
            f.read_text(encoding="utf-8"), f.name
    assert {f.name for f in (tree / "statements").glob("links_*.yaml")} == \
        {f.name for f in (REAL / "statements").glob("links_*.yaml")}
    assert result.conflicts == []
    # What no table covers is reported by name, not guessed.
    assert any("gujarat" in u for u in result.unmatched)
