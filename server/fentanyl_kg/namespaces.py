"""IRIs of the graph: namespaces, well-known graphs and prefix bindings."""

from rdflib import Namespace
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SKOS, XSD

BASE = "https://w3id.org/fentanyl-kg/"
FKG = Namespace(BASE + "ontology#")
ID = Namespace(BASE + "id/")
CLAIM = Namespace(BASE + "id/claim/")
SOURCE = Namespace(BASE + "id/source/")
GRAPH = Namespace(BASE + "graph/")

ONTOLOGY_GRAPH = GRAPH["ontology"]
PROVENANCE_GRAPH = GRAPH["provenance"]
INFERRED_GRAPH = GRAPH["inferred"]

SCHEMA = Namespace("https://schema.org/")
ORG = Namespace("http://www.w3.org/ns/org#")
QB = Namespace("http://purl.org/linked-data/cube#")
TIME = Namespace("http://www.w3.org/2006/time#")
GEO = Namespace("http://www.opengis.net/ont/geosparql#")
VOID = Namespace("http://rdfs.org/ns/void#")
SH = Namespace("http://www.w3.org/ns/shacl#")

# Prefixes a statement file may use in keys and values, and that outputs bind.
PREFIXES: dict[str, str] = {
    "fkg": str(FKG),
    "id": str(ID),
    "claim": str(CLAIM),
    "source": str(SOURCE),
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "owl": str(OWL),
    "xsd": str(XSD),
    "skos": str(SKOS),
    "prov": str(PROV),
    "dcterms": str(DCTERMS),
    "schema": str(SCHEMA),
    "org": str(ORG),
    "qb": str(QB),
    "time": str(TIME),
    "geo": str(GEO),
    "void": str(VOID),
}
