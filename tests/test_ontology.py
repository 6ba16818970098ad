"""The ontology, its controlled vocabularies and the SHACL shapes are documented and well formed.

Checks that each axiom yields its inference on the real data live with the
pipeline tests; these tests read only the bundled ontology and shapes.
"""

from __future__ import annotations

import re

import owlrl
import pyshacl
import pytest
from bundled_graphs import ontology, shapes
from rdflib import BNode, Dataset, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, SH, SKOS, XSD
from rdflib.plugins.sparql import prepareQuery
from rdflib.term import Node

from fentanyl_kg import bundled, reason
from fentanyl_kg.namespaces import FKG

# rdflib 7.6 calls its own deprecated Dataset API inside Graph.query on a Dataset;
# those warnings come from rdflib's modules, ours would still fail the run.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:rdflib.*")

ONTOLOGY_IRI = URIRef("https://w3id.org/fentanyl-kg/ontology")
TERM_TYPES = (
    OWL.Class,
    OWL.ObjectProperty,
    OWL.DatatypeProperty,
    OWL.AnnotationProperty,
    RDF.Property,
)
LANGUAGES = ("en", "es", "fr")


def in_fkg(node: Node) -> bool:
    return isinstance(node, URIRef) and str(node).startswith(str(FKG))


def terms(g: Graph) -> set[Node]:
    """Classes and properties declared in the fkg namespace."""
    return {s for t in TERM_TYPES for s in g.subjects(RDF.type, t) if in_fkg(s)}


def classes(g: Graph) -> set[Node]:
    return {s for s in g.subjects(RDF.type, OWL.Class) if in_fkg(s)}


def texts(g: Graph, subject: Node, predicate: URIRef, lang: str) -> list[Literal]:
    return [
        o for o in g.objects(subject, predicate) if isinstance(o, Literal) and o.language == lang
    ]


def short(node: Node) -> str:
    return str(node).replace(str(FKG), "fkg:")


# --- the ontology -----------------------------------------------------------


def test_ontology_parses_and_names_itself() -> None:
    g = ontology()
    assert (ONTOLOGY_IRI, RDF.type, OWL.Ontology) in g
    assert texts(g, ONTOLOGY_IRI, RDFS.label, "en") and texts(g, ONTOLOGY_IRI, RDFS.comment, "en")
    assert len(terms(g)) > 100


def test_every_term_has_an_english_label_and_comment() -> None:
    g = ontology()
    described = {s for s in g.subjects() if in_fkg(s)}  # terms, controlled values and schemes
    missing = sorted(
        f"{short(s)}: {what}"
        for s in described
        for what, p in (("rdfs:label", RDFS.label), ("rdfs:comment", RDFS.comment))
        if len(texts(g, s, p, "en")) != 1
    )
    assert not missing, "need exactly one English label and comment:\n  " + "\n  ".join(missing)


def test_classes_have_spanish_and_french_labels() -> None:
    g = ontology()
    missing = sorted(
        f"{short(c)} @{lang}"
        for c in classes(g)
        for lang in LANGUAGES
        if len(texts(g, c, RDFS.label, lang)) != 1
    )
    assert not missing, "each class needs one label per language:\n  " + "\n  ".join(missing)


def test_every_fkg_term_used_is_declared() -> None:
    g = ontology()
    declared = {s for s in g.subjects(RDF.type, None) if in_fkg(s)}
    used = {n for triple in g for n in triple if in_fkg(n)}
    assert not used - declared, (
        f"used but never declared: {sorted(short(n) for n in used - declared)}"
    )


def test_properties_say_what_they_take() -> None:
    """The loader reads property kinds and ranges from the ontology, so each property has both."""
    g = ontology()
    for kind in (OWL.ObjectProperty, OWL.DatatypeProperty):
        for p in (s for s in g.subjects(RDF.type, kind) if in_fkg(s)):
            assert (p, RDF.type, OWL.AnnotationProperty) not in g, short(p)
            if kind == OWL.DatatypeProperty:
                assert g.value(p, RDFS.range) is not None, f"{short(p)} has no rdfs:range"
    both = {s for s in g.subjects(RDF.type, OWL.ObjectProperty)} & {
        s for s in g.subjects(RDF.type, OWL.DatatypeProperty)
    }
    assert not both, f"both object and datatype property: {sorted(map(short, both))}"


# --- OWL 2 RL ---------------------------------------------------------------

# Class expressions OWL 2 RL allows (OWL 2 Profiles, section 4.2.2-4.2.4), by position.
SUBCLASS_KEYS = {OWL.unionOf, OWL.intersectionOf, OWL.someValuesFrom, OWL.hasValue, OWL.oneOf}
SUPERCLASS_KEYS = {
    OWL.intersectionOf,
    OWL.allValuesFrom,
    OWL.hasValue,
    OWL.maxCardinality,
    OWL.maxQualifiedCardinality,
    OWL.complementOf,
}
EQUIVALENT_KEYS = {OWL.intersectionOf, OWL.hasValue}
SHARED_KEYS = {RDF.type, OWL.onProperty, OWL.onClass}
# Constructs outside OWL 2 RL.
NOT_RL = {
    OWL.minCardinality,
    OWL.cardinality,
    OWL.minQualifiedCardinality,
    OWL.qualifiedCardinality,
    OWL.hasSelf,
    OWL.disjointUnionOf,
    OWL.ReflexiveProperty,
}
# Datatypes in ranges: OWL 2 RL's datatype map, plus those the data needs that OWL 2
# leaves out (xsd:date, xsd:gYear): owlrl treats their literals as opaque values.
RL_DATATYPES = {
    XSD.string,
    XSD.decimal,
    XSD.integer,
    XSD.boolean,
    XSD.anyURI,
    XSD.dateTime,
    XSD.nonNegativeInteger,
    RDF.langString,
    RDF.PlainLiteral,
}
OPAQUE_DATATYPES = {XSD.date, XSD.gYear}


def test_ontology_uses_only_owl2rl_constructs() -> None:
    g = ontology()
    problems = [f"{s} {p} {o}" for s, p, o in g if p in NOT_RL or o in NOT_RL]
    for s, o in g.subject_objects(OWL.maxCardinality):
        if int(str(o)) > 1:
            problems.append(f"{s}: max cardinality {o} (OWL 2 RL allows 0 or 1)")

    def check(expr: Node, allowed: set[URIRef], position: str) -> None:
        if not isinstance(expr, BNode):
            return
        keys = set(g.predicates(expr, None)) - SHARED_KEYS
        if keys - allowed:
            problems.append(f"{position} class expression uses {sorted(map(str, keys - allowed))}")
        for lst in g.objects(expr, OWL.intersectionOf):
            for member in Collection(g, lst):
                check(member, allowed, position)

    for sub, sup in g.subject_objects(RDFS.subClassOf):
        check(sub, SUBCLASS_KEYS, "subclass")
        check(sup, SUPERCLASS_KEYS, "superclass")
    for a, b in g.subject_objects(OWL.equivalentClass):
        check(a, EQUIVALENT_KEYS, "equivalent")
        check(b, EQUIVALENT_KEYS, "equivalent")
    for p, r in g.subject_objects(RDFS.range):
        if (p, RDF.type, OWL.DatatypeProperty) in g and r not in RL_DATATYPES | OPAQUE_DATATYPES:
            problems.append(f"{short(p)} has range {r}, outside OWL 2 RL's datatypes")
    assert not problems, "\n".join(problems)


def test_owl2rl_closure_is_consistent_with_one_member_per_class() -> None:
    """One individual per class: owlrl finds no clash, so no class is unsatisfiable under RL."""
    g = Graph()
    g += ontology()
    for i, cls in enumerate(sorted(classes(ontology()), key=str)):
        g.add((URIRef(f"urn:test:member-{i}"), RDF.type, cls))
    reason.expand(g)
    errors = [str(o) for o in g.objects(None, owlrl.Namespaces.ERRNS.error)]
    assert not errors, "\n".join(errors)
    assert not list(g.subjects(RDF.type, OWL.Nothing))


# --- controlled vocabularies -------------------------------------------------


def concepts(g: Graph) -> set[Node]:
    concept_classes = {c for c in g.subjects(RDFS.subClassOf, SKOS.Concept)}
    return {s for c in concept_classes for s in g.subjects(RDF.type, c)}


def test_every_concept_has_a_pref_label_and_a_scheme() -> None:
    g = ontology()
    assert len(concepts(g)) > 50
    problems = []
    for c in sorted(concepts(g), key=str):
        if len(texts(g, c, SKOS.prefLabel, "en")) != 1:
            problems.append(f"{short(c)}: needs exactly one English skos:prefLabel")
        schemes = list(g.objects(c, SKOS.inScheme))
        if len(schemes) != 1 or (schemes[0], RDF.type, SKOS.ConceptScheme) not in g:
            problems.append(f"{short(c)}: needs skos:inScheme to one declared skos:ConceptScheme")
    assert not problems, "\n".join(problems)


def test_each_scheme_holds_the_values_of_one_class() -> None:
    g = ontology()
    for scheme in g.subjects(RDF.type, SKOS.ConceptScheme):
        members = list(g.subjects(SKOS.inScheme, scheme))
        assert members, f"{short(scheme)} is empty"
        types = {frozenset(t for t in g.objects(m, RDF.type) if in_fkg(t)) for m in members}
        assert len(types) == 1, f"{short(scheme)} mixes values of {types}"


# --- shapes ------------------------------------------------------------------


def test_shapes_pass_meta_shacl() -> None:
    # An empty Dataset, not a Graph: the claim-graph shapes query with GRAPH.
    conforms, _, text = pyshacl.validate(
        data_graph=Dataset(),
        shacl_graph=shapes(),
        meta_shacl=True,
        advanced=True,
        inference="none",
    )
    assert conforms, text


def shape_nodes(g: Graph) -> set[Node]:
    found = set(g.subjects(RDF.type, SH.NodeShape)) | set(g.subjects(RDF.type, SH.PropertyShape))
    return found | set(g.objects(None, SH.property))


def test_every_shape_and_constraint_has_a_message() -> None:
    g = shapes()
    nodes = shape_nodes(g) | set(g.objects(None, SH.sparql))
    missing = sorted(str(n) for n in nodes if not texts(g, n, SH.message, "en"))
    assert not missing, "no English sh:message:\n  " + "\n  ".join(missing)
    unnamed = sorted(str(n) for n in nodes if isinstance(n, BNode))
    assert not unnamed, "shapes and constraints get IRIs so errors can name them"


def sparql_texts(g: Graph) -> list[tuple[Node, str]]:
    return [(s, str(o)) for s, o in g.subject_objects(SH.select)]


def declared_prefixes(g: Graph) -> dict[str, str]:
    return {
        str(g.value(d, SH.prefix)): str(g.value(d, SH.namespace))
        for d in g.objects(None, SH.declare)
    }


@pytest.mark.parametrize("index", range(len(sparql_texts(bundled.shapes()))))
def test_sparql_in_shapes_parses(index: int) -> None:
    g = shapes()
    node, text = sorted(sparql_texts(g), key=lambda item: item[1])[index]
    assert not re.search(r"\b(VALUES|MINUS|SERVICE)\b", text), "not allowed in SHACL-SPARQL"
    prepareQuery(text, initNs=declared_prefixes(g))


def test_shapes_refer_only_to_declared_terms() -> None:
    onto, g = ontology(), shapes()
    declared = {s for s in onto.subjects(RDF.type, None) if in_fkg(s)}
    used = {n for triple in g for n in triple if in_fkg(n)}
    for _, text in sparql_texts(g):
        used |= {FKG[name] for name in re.findall(r"\bfkg:([A-Za-z0-9_]+)", text)}
    assert not used - declared, (
        f"unknown fkg terms in shapes: {sorted(short(n) for n in used - declared)}"
    )
