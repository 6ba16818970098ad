"""Linked Data pages, /cite, the query page and named queries, through Flask's test client."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator

import pyoxigraph as ox
import pytest
from flask import Flask
from flask.testing import FlaskClient
from pages_app import FKG, ID, SCRIPT, make_app, pages_release

PAGE_SIZE = 3


@pytest.fixture(scope="module")
def app() -> Iterator[Flask]:
    app = make_app(pages_release(), PAGE_SIZE=PAGE_SIZE)
    yield app
    executor = getattr(app.extensions["fentanyl_kg"], "executor", None)
    if executor is not None:  # the real app's query worker processes
        executor.close()


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def html(client: FlaskClient, url: str) -> str:
    resp = client.get(url, headers={"Accept": "text/html"})
    assert resp.status_code == 200, (url, resp.status_code, resp.data[:300])
    assert resp.mimetype == "text/html"
    return resp.get_data(as_text=True)


def page_json(client: FlaskClient, url: str) -> dict:  # type: ignore[type-arg]
    resp = client.get(url, headers={"Accept": "application/json"})
    assert resp.status_code == 200, (url, resp.data[:300])
    return resp.get_json()  # type: ignore[no-any-return]


# -- entity pages ----------------------------------------------------------------------------
def test_entity_page_shows_names_types_identifiers_and_cited_facts(client: FlaskClient) -> None:
    text = html(client, "/id/sonora")
    assert "<h1>Sonora</h1>" in text
    for lang in ("en", "es", "fr"):
        assert f"<td>{lang}</td>" in text
    assert 'href="https://www.wikidata.org/wiki/Q46422"' in text  # fkg:formatterURL
    assert 'href="https://www.iso.org/obp/ui/#iso:code:3166:MX-SON"' in text
    assert "INEGI geostatistical code" in text and ">26<" in text  # no formatter: plain value
    assert "A test identifier table</a>, table 2" in text  # citation: source title and locator
    assert 'href="/id/mexico"' in text
    assert "how?</a>" in text and 'class="inferred"' in text  # inferred facts are marked


def test_entity_json_twin_carries_citations_and_inference(client: FlaskClient) -> None:
    data = page_json(client, "/id/sonora")
    twin = page_json(client, "/id/sonora.json")
    assert twin["incoming"]["next"] == "/id/sonora.json?in=2"  # pages of the twin stay twins
    assert twin["outgoing"]["next"] == "/id/sonora.json?out=2"
    for side in ("incoming", "outgoing"):
        twin[side]["next"] = data[side]["next"]
    assert data == twin
    assert {lab["value"]["value"] for lab in data["labels"]} == {"Sonora"}
    assert {lab["lang"] for lab in data["labels"]} == {"en", "es", "fr"}
    types = {t["value"]["value"]: t["inferred"] for t in data["types"]}
    assert types[FKG + "FirstLevelDivision"] is False and types[FKG + "Place"] is True
    place = next(t for t in data["types"] if t["value"]["value"] == FKG + "Place")
    assert [c["record_id"] for c in place["claims"]] == ["sonora"]  # derived from
    assert place["cite"].startswith("/cite?")
    ids = {i["property"]["value"]: i["url"] for i in data["identifiers"]}
    assert ids[FKG + "wikidataId"] == "https://www.wikidata.org/wiki/Q46422"
    assert ids[FKG + "inegiCode"] is None
    incoming = {(f["value"]["value"], f["property"]["value"]): f
                for page in range(1, data["incoming"]["pages"] + 1)
                for f in page_json(client, f"/id/sonora?in={page}")["incoming"]["items"]}
    both = incoming[(ID + "sinaloa-cartel", FKG + "operatesIn")]
    assert {c["record_id"] for c in both["claims"]} == {"cartel-in-sonora-brief",
                                                         "cartel-in-sonora-news"}


def test_nested_quantity_is_shown_inline(client: FlaskClient) -> None:
    data = page_json(client, "/id/flow-sinaloa-fentanyl?out=1")
    rows = [f for p in range(1, data["outgoing"]["pages"] + 1)
            for f in page_json(client, f"/id/flow-sinaloa-fentanyl?out={p}")["outgoing"]["items"]]
    quantity = next(f for f in rows if f["property"]["value"] == FKG + "quantity")
    props = {n["property"]["value"]: n["value"]["value"] for n in quantity["nested"]}
    assert props[FKG + "amount"] == "1500" and props[FKG + "bound"] == FKG + "AtLeast"


def test_facts_are_paged_with_totals_and_next_links(client: FlaskClient) -> None:
    first = page_json(client, "/id/mexico")
    incoming = first["incoming"]
    assert incoming["size"] == PAGE_SIZE and incoming["total"] > PAGE_SIZE
    assert incoming["pages"] == -(-incoming["total"] // PAGE_SIZE)
    seen = []
    url: str | None = "/id/mexico"
    while url:
        part = page_json(client, url)["incoming"]
        seen += [(f["value"]["value"], f["property"]["value"]) for f in part["items"]]
        url = part["next"]
    assert len(seen) == len(set(seen)) == incoming["total"]  # nothing dropped, nothing twice
    text = html(client, "/id/mexico")
    assert f"facts 1–{PAGE_SIZE} of {incoming['total']}" in text
    assert 'rel="next" href="/id/mexico?in=2">next page</a>' in text


def test_bad_page_number_is_a_400(client: FlaskClient) -> None:
    resp = client.get("/id/mexico?in=zero", headers={"Accept": "application/json"})
    assert resp.status_code == 400
    assert resp.get_json()["status"] == 400


def test_unknown_resource_is_a_404_in_the_common_error_shape(client: FlaskClient) -> None:
    resp = client.get("/id/no-such-thing", headers={"Accept": "application/json"})
    assert resp.status_code == 404
    body = resp.get_json()
    assert body["status"] == 404 and "no-such-thing" in body["error"]
    assert client.get("/id/no-such-thing", headers={"Accept": "text/html"}).status_code == 404


# -- content negotiation and RDF twins ----------------------------------------------------------
@pytest.mark.parametrize(("suffix", "media", "fmt"), [
    (".ttl", "text/turtle", ox.RdfFormat.TURTLE),
    (".jsonld", "application/ld+json", ox.RdfFormat.JSON_LD),
    (".nt", "application/n-triples", ox.RdfFormat.N_TRIPLES),
    (".rdf", "application/rdf+xml", ox.RdfFormat.RDF_XML),
    (".trig", "application/trig", ox.RdfFormat.TRIG),
    (".nq", "application/n-quads", ox.RdfFormat.N_QUADS),
])
def test_rdf_twins_and_negotiation_agree(client: FlaskClient, suffix: str, media: str,
                                         fmt: ox.RdfFormat) -> None:
    by_suffix = client.get(f"/id/sonora{suffix}")
    by_accept = client.get("/id/sonora", headers={"Accept": media})
    assert by_suffix.status_code == by_accept.status_code == 200
    assert by_suffix.mimetype == by_accept.mimetype == media
    assert by_suffix.data == by_accept.data
    quads = list(ox.parse(by_suffix.data, format=fmt))
    sonora = ox.NamedNode(ID + "sonora")
    assert any(q.subject == sonora and q.predicate.value == FKG + "locatedIn" for q in quads)
    if suffix in (".trig", ".nq"):  # the dataset formats keep each claim's graph
        assert any(q.graph_name.value.startswith(ID + "claim/") for q in quads
                   if isinstance(q.graph_name, ox.NamedNode))


def test_q_values_pick_the_preferred_type(client: FlaskClient) -> None:
    resp = client.get("/id/sonora", headers={
        "Accept": "text/turtle;q=0.5, application/ld+json;q=0.9, text/html;q=0.1"})
    assert resp.mimetype == "application/ld+json"
    assert "Accept" in resp.headers["Vary"]
    assert '</id/sonora.ttl>; rel="alternate"; type="text/turtle"' in resp.headers["Link"]
    browser = client.get("/id/sonora", headers={
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
    assert browser.mimetype == "text/html"
    assert client.get("/id/sonora").mimetype == "text/html"  # no Accept at all


def test_pages_carry_an_etag_tied_to_the_release(client: FlaskClient) -> None:
    first = client.get("/id/sonora.ttl")
    etag = first.headers["ETag"]
    assert "max-age" in first.headers["Cache-Control"]
    again = client.get("/id/sonora.ttl", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert client.get("/id/sonora.nt").headers["ETag"] != etag


def test_unsupported_type_is_a_406(client: FlaskClient) -> None:
    resp = client.get("/id/sonora", headers={"Accept": "image/png"})
    assert resp.status_code == 406
    assert "text/turtle" in resp.get_json()["error"]


# -- claims, sources, ontology, graphs ---------------------------------------------------------
def claim_iri(client: FlaskClient, record: str) -> str:
    data = page_json(client, "/cite.json?s=sinaloa-cartel&p=fkg:operatesIn&o=sonora")
    (match,) = data["results"]["items"]
    return next(c["claim"] for c in match["claims"] if c["record_id"] == record)


def test_claim_page(client: FlaskClient) -> None:
    iri = claim_iri(client, "cartel-in-sonora-news")
    path = iri[len("https://w3id.org/fentanyl-kg"):]
    text = html(client, path)
    assert "The news story also places the Sinaloa Cartel in Sonora." in text
    assert "paragraph 4" in text and "Agrees with the brief." in text
    assert 'href="/id/source/pnews"' in text
    data = page_json(client, path + ".json")
    assert data["claim"]["source_title"] == "A syndicated news story"
    assert [(t["p"]["value"], t["o"]["value"]) for t in data["triples"]] == [
        (FKG + "operatesIn", ID + "sonora")]
    trig = client.get(path + ".trig")
    quads = list(ox.parse(trig.data, format=ox.RdfFormat.TRIG))
    assert {q.graph_name.value for q in quads if isinstance(q.graph_name, ox.NamedNode)} == {
        iri, "https://w3id.org/fentanyl-kg/graph/provenance"}  # and each triple in the default


def test_source_page_lists_every_claim_derived_from_it(client: FlaskClient) -> None:
    data = page_json(client, "/id/source/pbrief")
    claims = data["claims"]
    assert claims["total"] > PAGE_SIZE
    ids = []
    url: str | None = "/id/source/pbrief"
    while url:
        part = page_json(client, url)["claims"]
        ids += [c["record_id"] for c in part["items"]]
        url = part["next"]
    assert len(ids) == len(set(ids)) == claims["total"]
    assert "npp-to-4anpp" in ids and "rec-data" in ids
    assert [c["record_id"] for c in data["primary_for"]["items"]] == ["flow-arizona-firearms"]
    news = page_json(client, "/id/source/pnews")
    (copy,) = news["copies"]
    assert any(f["value"]["value"] == "copysite.example" for f in copy["facts"])
    assert "next page" in html(client, "/id/source/pbrief")


def test_sources_index(client: FlaskClient) -> None:
    data = page_json(client, "/sources.json")
    assert data["sources"]["total"] == 3
    first = {r["source"]["value"]: r["claims"] for r in data["sources"]["items"]}
    assert first[ID + "source/pids"] > 0


def test_ontology_page_has_an_anchor_per_term(client: FlaskClient) -> None:
    text = html(client, "/ontology")
    assert 'id="Place"' in text and 'id="locatedIn"' in text and 'id="Percent"' in text
    assert "https://www.wikidata.org/wiki/$1" in text
    data = page_json(client, "/ontology.json")
    headings = [s["heading"] for s in data["sections"]]
    assert "Classes" in headings and "Object properties" in headings
    turtle = client.get("/ontology.ttl")
    assert turtle.mimetype == "text/turtle"
    assert len(list(ox.parse(turtle.data, format=ox.RdfFormat.TURTLE))) > 500
    # an ontology term IRI maps to the ontology page with a fragment
    sonora = page_json(client, "/id/sonora")
    place = next(t for t in sonora["types"] if t["value"]["value"] == FKG + "Place")
    assert place["value"]["href"] == "/ontology#Place"


def test_dataset_iris_lead_to_the_void_description(client: FlaskClient) -> None:
    for path in ("/dataset", "/dataset/claims"):
        resp = client.get(path)
        assert resp.status_code == 303 and resp.headers["Location"].endswith("/.well-known/void")


def test_graph_pages(client: FlaskClient) -> None:
    data = page_json(client, "/graph/inferred")
    assert data["triples"] > 0
    assert client.get("/graph/nonsense", headers={"Accept": "application/json"}).status_code \
        == 404


# -- /cite -------------------------------------------------------------------------------------
def test_cite_a_triple_pattern(client: FlaskClient) -> None:
    data = page_json(client, "/cite.json?s=sinaloa-cartel&p=fkg:operatesIn")
    (match,) = data["results"]["items"]
    assert match["inferred"] is False
    assert {(c["source_title"], c["locator"], c["confidence"]) for c in match["claims"]} == {
        ("A syndicated news story", "paragraph 4", "medium"),
        (f"A test policy brief {SCRIPT}", "page 3", "high")}


def test_cite_an_inferred_triple_returns_its_derivation(client: FlaskClient) -> None:
    data = page_json(client, "/cite?s=<https://w3id.org/fentanyl-kg/id/mexico>"
                             "&p=fkg:contains&o=id:culiacan")
    (match,) = data["results"]["items"]
    assert match["inferred"] is True and match["claims"] == []
    assert {c["record_id"] for c in match["derived_from"]} == {"sinaloa",
                                                               "sinaloa-contains-culiacan"}
    assert match["derivations"][0]["rule"] == "inverse"
    text = html(client, "/cite?s=mexico&p=fkg:contains&o=culiacan")
    assert "Derived from these asserted claims" in text and "is the inverse of" in text


def test_cite_a_literal_by_its_text(client: FlaskClient) -> None:
    data = page_json(client, "/cite.json?p=fkg:amount&o=1500")
    (match,) = data["results"]["items"]
    assert match["o"]["datatype"].endswith("#decimal")
    assert [c["record_id"] for c in match["claims"]] == ["flow-sinaloa-fentanyl"]
    assert page_json(client, '/cite.json?p=fkg:amount&o="1500"')["results"]["total"] == 0


def test_cite_a_claim(client: FlaskClient) -> None:
    iri = claim_iri(client, "cartel-in-sonora-brief")
    data = page_json(client, "/cite.json?claim=claim:" + iri.rsplit("/", 1)[1])
    assert data["claim"]["claim"]["record_id"] == "cartel-in-sonora-brief"
    assert data["claim"]["claim"]["locator"] == "page 3"


def test_cite_open_pattern_is_paged(client: FlaskClient) -> None:
    data = page_json(client, "/cite.json?p=rdf:type")
    assert data["results"]["total"] > PAGE_SIZE and data["results"]["next"]


@pytest.mark.parametrize("query", ["s=<not an iri>", "p=%22literal%22", "s=%22x%22",
                                   "claim=claim:ffff", "page=-1"])
def test_cite_bad_input_is_a_client_error(client: FlaskClient, query: str) -> None:
    resp = client.get("/cite?" + query, headers={"Accept": "application/json"})
    assert resp.status_code in (400, 404), (query, resp.status_code)
    assert resp.get_json()["status"] == resp.status_code


# -- query page and named queries --------------------------------------------------------------
def test_query_page_lists_named_queries_and_loads_no_cdn(client: FlaskClient) -> None:
    from fentanyl_kg.web.named import named_queries

    text = html(client, "/")
    for q in named_queries().values():
        assert f'data-name="{q.name}"' in text
    assert not re.search(r'(src|href)="(https?:)?//', text.split("</header>")[1].split(
        '<script type="application/json"')[0].replace('href="https://', ""))
    for asset in re.findall(r'(?:src|href)="(/assets/[^"]+)"', text):
        with client.get(asset) as resp:
            assert resp.status_code == 200
    config = json.loads(re.search(r'<script type="application/json" id="page-config">(.*?)'
                                  r"</script>", text, re.S).group(1))  # type: ignore[union-attr]
    assert config["sparql"] == "/sparql" and config["publicBase"] == "https://w3id.org/fentanyl-kg/"


def test_query_page_prefills_a_shared_query(client: FlaskClient) -> None:
    text = html(client, "/?query=SELECT%20%3Fs%20WHERE%20%7B%7D%20%23%20%3Cscript%3E")
    assert "SELECT ?s WHERE {} # &lt;script&gt;</textarea>" in text


def test_named_query_binds_parameters_as_values(client: FlaskClient) -> None:
    data = page_json(client, "/query/recommendations_for_country.json?country=canada")
    rows = data["results"]["bindings"]
    assert [r["country"]["value"] for r in rows] == [ID + "canada"]
    assert rows[0]["alsoAddressedTo"]["value"] == "Mexico"
    assert data["citations"][0][0]["record_id"] == "rec-data"
    everyone = page_json(client, "/query/recommendations_for_country.json")
    assert {r["country"]["value"] for r in everyone["results"]["bindings"]} == {
        ID + "canada", ID + "mexico"}
    injection = client.get("/query/recommendations_for_country.json?country="
                           "canada%3E%20%7D%20%23")  # "canada> } #" is refused, not pasted
    assert injection.status_code == 400 and "needs an IRI" in injection.get_json()["error"]
    as_iri = page_json(client, "/query/recommendations_for_country.json?country="
                               "%3Chttps%3A%2F%2Fexample.org%2Fx%3E")
    assert as_iri["results"]["bindings"] == []


def test_named_query_html_csv_and_errors(client: FlaskClient) -> None:
    text = html(client, "/query/places_within?container=arizona")
    assert "Mariposa port of entry" in text and "<th>sources</th>" in text
    assert 'href="/query/places_within.csv?container=arizona"' in text
    resp = client.get("/query/places_within.csv?container=arizona")
    assert resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert {r["place"] for r in rows} == {ID + "nogales-az", ID + "mariposa-poe"}
    assert client.get("/query/nope", headers={"Accept": "application/json"}).status_code == 404
    bad = client.get("/query/places_within.json?container=%22x%22")
    assert bad.status_code == 400


# -- escaping ----------------------------------------------------------------------------------
def all_pages(client: FlaskClient) -> list[str]:
    iri = claim_iri(client, "cartel-in-sonora-brief")
    return ["/", "/id/sinaloa-cartel", "/id/sonora", "/id/flow-arizona-firearms",
            "/id/source/pbrief", "/id/source/pnews", "/sources", "/ontology", "/graph/inferred",
            iri[len("https://w3id.org/fentanyl-kg"):], "/cite?s=sinaloa-cartel",
            "/cite?claim=" + iri, "/query/entity_statements?entity=sinaloa-cartel",
            "/query/claims_by_source?source=source:pbrief", "/id/" + SCRIPT,
            "/?query=" + SCRIPT]


def test_script_in_the_data_is_escaped_on_every_page(client: FlaskClient) -> None:
    for url in all_pages(client):
        resp = client.get(url, headers={"Accept": "text/html"})
        text = resp.get_data(as_text=True)
        assert SCRIPT not in text, url
        if url not in ("/ontology", "/graph/inferred", "/"):
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text, url
