"""The SPARQL 1.1 Service Description of /sparql and the VoID description of the dataset."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox

from fentanyl_kg.namespaces import (
    BASE,
    INFERRED_GRAPH,
    ONTOLOGY_GRAPH,
    PROVENANCE_GRAPH,
)
from fentanyl_kg.store import Release
from fentanyl_kg.web import formats
from fentanyl_kg.web.config import Settings
from fentanyl_kg.web.terms import RDF_TYPE
from fentanyl_kg.web.terms import RDFS_COMMENT as COMMENT

SD = "http://www.w3.org/ns/sparql-service-description#"
VOID = "http://rdfs.org/ns/void#"
DCT = "http://purl.org/dc/terms/"
XSD_INTEGER = ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")
DATASET = ox.NamedNode(BASE + "dataset")

DEFAULT_GRAPH_TEXT = (
    "The default graph of every query is the union of all claim graphs (one per sourced claim, "
    "IRIs <https://w3id.org/fentanyl-kg/id/claim/...>) and the inferred graph. The provenance "
    "and ontology graphs are not part of it: reach them, and any single claim graph, with "
    "GRAPH or FROM. default-graph-uri and named-graph-uri replace this dataset as the SPARQL "
    "1.1 Protocol says.")


def _en(text: str) -> ox.Literal:
    return ox.Literal(text, language="en")


def _int(n: int) -> ox.Literal:
    return ox.Literal(str(n), datatype=XSD_INTEGER)


def description(endpoint: str, release: Release, settings: Settings) -> list[ox.Triple]:
    """The service description of the endpoint at URL `endpoint`."""
    s, sd = ox.NamedNode(endpoint), (lambda local: ox.NamedNode(SD + local))
    counts = release.counts
    limits = (
        f"Read-only: SPARQL Update and LOAD are refused. A query may run for "
        f"{settings.QUERY_TIMEOUT:g} s; a slower one is stopped and answered with HTTP 503. "
        f"At most {settings.MAX_ROWS} rows (SELECT) or triples (CONSTRUCT, DESCRIBE) are "
        "returned; a cut result carries the header 'Fentanyl-KG-Truncated: true' and, in "
        "SPARQL JSON, the extra top-level key \"truncated\": true. With citations=1, a SELECT "
        "answered in SPARQL JSON also carries the top-level key \"citations\": one list per "
        "result row of the claims (source, locator, confidence, notes) that support the "
        "triples the row matched; clients that do not know these keys can ignore them. "
        "The prefixes fkg:, id:, claim:, source:, rdf:, rdfs:, owl:, xsd:, skos:, prov:, "
        "dcterms:, schema:, org:, qb:, time:, geo: and void: are predeclared. "
        f"Requests are limited to {settings.MAX_REQUEST_BYTES} bytes.")
    # Fixed blank-node labels: the same release gives the same bytes, so the ETag holds.
    default_graph, default_ds = ox.BlankNode("defaultGraph"), DATASET
    out = [
        ox.Triple(s, RDF_TYPE, sd("Service")),
        ox.Triple(s, sd("endpoint"), s),
        ox.Triple(s, sd("supportedLanguage"), sd("SPARQL11Query")),
        ox.Triple(s, ox.NamedNode(DCT + "title"), _en("fentanyl-kg SPARQL 1.1 endpoint")),
        ox.Triple(s, COMMENT, _en(limits)),
        ox.Triple(s, sd("defaultEntailmentRegime"),
                  ox.NamedNode("http://www.w3.org/ns/entailment/Simple")),
        ox.Triple(s, sd("defaultDataset"), default_ds),
        ox.Triple(default_ds, RDF_TYPE, sd("Dataset")),
        ox.Triple(default_ds, sd("defaultGraph"), default_graph),
        ox.Triple(default_graph, RDF_TYPE, sd("Graph")),
        ox.Triple(default_graph, COMMENT, _en(DEFAULT_GRAPH_TEXT)),
        ox.Triple(default_graph, ox.NamedNode(VOID + "triples"),
                  _int(counts.get("asserted_triples", 0) + counts.get("inferred_triples", 0))),
    ]
    out += [ox.Triple(s, sd("resultFormat"), ox.NamedNode(f.w3c))
            for f in formats.RESULTS + formats.GRAPHS]
    if settings.SERVICE_ALLOWLIST:
        out.append(ox.Triple(s, sd("feature"), sd("BasicFederatedQuery")))
    for name, key, text in (
            (PROVENANCE_GRAPH, "provenance_triples",
             "For each claim graph: its source, locator, record id, text, confidence and "
             "notes; and each source's bibliographic record."),
            (ONTOLOGY_GRAPH, "ontology_triples", "The fentanyl-kg ontology and concepts."),
            (INFERRED_GRAPH, "inferred_triples",
             "OWL 2 RL conclusions that were not asserted; also part of the default graph.")):
        local = str(name).rsplit("/", 1)[-1]
        named, graph = ox.BlankNode(f"{local}Named"), ox.BlankNode(f"{local}Graph")
        out += [ox.Triple(default_ds, sd("namedGraph"), named),
                ox.Triple(named, RDF_TYPE, sd("NamedGraph")),
                ox.Triple(named, sd("name"), ox.NamedNode(str(name))),
                ox.Triple(named, sd("graph"), graph),
                ox.Triple(graph, RDF_TYPE, sd("Graph")),
                ox.Triple(graph, COMMENT, _en(text)),
                ox.Triple(graph, ox.NamedNode(VOID + "triples"), _int(counts.get(key, 0)))]
    out.append(ox.Triple(default_ds, COMMENT, _en(
        f"Besides the graphs described here, {counts.get('claims', 0)} claim graphs, each "
        "named by its claim IRI, are available as named graphs.")))
    return out


def void(release: Release, endpoint: str) -> list[ox.Triple]:
    """The release's VoID description (void.ttl) with this server's SPARQL endpoint added."""
    path = Path(release.path) / "void.ttl"
    triples: list[ox.Triple] = []
    if path.is_file():
        triples = [q.triple for q in ox.parse(path=str(path), format=ox.RdfFormat.TURTLE)]
    else:
        triples = [ox.Triple(DATASET, RDF_TYPE, ox.NamedNode(VOID + "Dataset")),
                   ox.Triple(DATASET, ox.NamedNode(VOID + "triples"),
                             _int(release.counts.get("quads", 0)))]
    triples.append(ox.Triple(DATASET, ox.NamedNode(VOID + "sparqlEndpoint"),
                             ox.NamedNode(endpoint)))
    triples.append(ox.Triple(DATASET, ox.NamedNode(DCT + "hasVersion"),
                             ox.Literal(release.version)))
    return triples
