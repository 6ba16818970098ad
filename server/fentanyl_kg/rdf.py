"""Turn loaded records into an RDF Dataset: one named graph per claim, plus provenance."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from rdflib import RDF, RDFS, XSD, Dataset, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV
from rdflib.term import Node

from fentanyl_kg import cycles, links, values
from fentanyl_kg.errors import StatementError, StatementErrors
from fentanyl_kg.namespaces import (
    CLAIM,
    FKG,
    ID,
    ONTOLOGY_GRAPH,
    PREFIXES,
    PROVENANCE_GRAPH,
    SCHEMA,
    SOURCE,
)
from fentanyl_kg.statements import Corpus, Location, Record, Source

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
PREFIXED = re.compile(r"^([A-Za-z][\w-]*):([A-Za-z_][\w.-]*)$")
CONFIDENCE = {"high": FKG.HighConfidence, "medium": FKG.MediumConfidence,
              "low": FKG.LowConfidence}
Triple = tuple[Node, Node, Node]


@dataclass
class Vocabulary:
    """What the ontology says about each term, which is all the loader needs to know."""

    terms: set[URIRef]
    classes: set[URIRef]
    properties: set[URIRef]
    object_properties: set[URIRef]
    ranges: dict[URIRef, URIRef]
    iri_schemes: dict[URIRef, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_graph(cls, g: Graph) -> Vocabulary:
        def typed(*types: URIRef) -> set[URIRef]:
            return {s for t in types for s in g.subjects(RDF.type, t) if isinstance(s, URIRef)}

        return cls(
            terms={s for s in g.subjects() if isinstance(s, URIRef)},
            classes=typed(OWL.Class, RDFS.Class),
            properties=typed(OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty,
                             RDF.Property),
            object_properties=typed(OWL.ObjectProperty),
            ranges={s: o for s, o in g.subject_objects(RDFS.range)
                    if isinstance(s, URIRef) and isinstance(o, URIRef)},
            iri_schemes={p: values.DEFAULT_SCHEMES | {str(o).lower() for o in
                                                      g.objects(p, FKG.iriScheme)}
                         for p in set(g.subjects(FKG.iriScheme, None))
                         if isinstance(p, URIRef)},
        )

    def schemes(self, prop: URIRef) -> frozenset[str]:
        """The URI schemes an <IRI> value of prop may use."""
        return self.iri_schemes.get(prop, values.DEFAULT_SCHEMES)

    def is_property(self, iri: URIRef) -> bool:
        return iri in self.properties


@dataclass
class Built:
    """The dataset and an index from every IRI we minted to where it was written."""

    dataset: Dataset
    locations: dict[URIRef, Location] = field(default_factory=dict)
    claims: int = 0
    entities: int = 0
    situations: int = 0
    sources: int = 0


def expand(name: str, at: Location) -> URIRef:
    """Expand `prefix:local` using the known prefixes."""
    m = PREFIXED.match(name)
    if not m or m.group(1) not in PREFIXES:
        raise at.error(f"'{name}' is not a known prefixed name (prefixes: "
                       f"{', '.join(sorted(PREFIXES))})")
    return URIRef(PREFIXES[m.group(1)] + m.group(2))


def short(iri: URIRef) -> str:
    """`fkg:startYear` for the full IRI, as a statement file writes the key."""
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns) and iri != URIRef(ns):
            return f"{prefix}:{iri[len(ns):]}"
    return iri.n3()


def entity_iri(slug: str, at: Location) -> URIRef:
    if not SLUG.match(slug):
        raise at.error(f"malformed IRI: slug '{slug}' may only use a-z, 0-9 and '-'")
    return ID[slug]


class _ClaimBuilder:
    """Resolves one record's keys and values against the vocabulary."""

    def __init__(self, vocab: Vocabulary, declared: set[str], record: Record,
                 locations: dict[URIRef, Location]) -> None:
        self.vocab, self.declared, self.record = vocab, declared, record
        self.locations = locations
        self.triples: list[Triple] = []
        # Every defect of the record, not just the first: each key and value is checked.
        self.errors: list[StatementError] = []

    def reference(self, prop: URIRef, value: Any, at: Location) -> URIRef:
        if not isinstance(value, str):
            raise at.error("expected an entity slug or prefixed name, got a list")
        if value.startswith("<") and value.endswith(">"):
            return values.iri(value[1:-1], self.vocab.schemes(prop), at)
        if ":" in value:
            iri = expand(value, at)
            if iri.startswith(str(FKG)) and iri not in self.vocab.terms:
                raise at.error(f"'{value}' is not defined in the ontology")
            return iri
        iri = entity_iri(value, at)
        if value not in self.declared:
            raise at.error(f"dangling reference: entity '{value}' is not declared "
                           "(no record gives it a type)")
        return iri

    def literal(self, prop: URIRef, value: Any, at: Location) -> list[Literal]:
        rng = self.vocab.ranges.get(prop)
        if rng == RDF.langString or (rng is None and isinstance(value, dict)):
            if not isinstance(value, dict):
                raise at.error(f"'{prop.n3()}' needs text per language, e.g. {{en: ...}}")
            out = []
            for lang, text in value.items():
                for t in text if isinstance(text, list) else [text]:
                    if not re.match(r"^[a-z]{2,3}(-[A-Za-z0-9]+)*$", str(lang)):
                        raise at.error(f"'{lang}' is not a language code (text {t!r}); "
                                       "quote text that contains a comma")
                    if not isinstance(t, str) or not t.strip():
                        raise at.error(f"text for language '{lang}' must be a non-empty "
                                       "string")
                    out.append(Literal(t.strip(), lang=lang))
            return out
        if not isinstance(value, str):
            raise at.error(f"'{prop.n3()}' takes a single value, got a "
                           f"{'list' if isinstance(value, list) else 'mapping'}")
        return [values.literal(value, rng, short(prop), at)]

    def node(self, parent: URIRef, key: str, prop: URIRef, value: dict[str, Any],
             at: Location) -> URIRef:
        content = values.yaml11_form(self.vocab.ranges, value)
        digest = hashlib.sha1(json.dumps([str(parent), key, content], sort_keys=True)
                              .encode()).hexdigest()[:16]
        iri = ID["node/" + digest]
        self.locations.setdefault(iri, at)
        rng = self.vocab.ranges.get(prop)
        node_type = value.get("type")
        if node_type is not None:
            self.triples.append((iri, RDF.type, self.class_iri(str(node_type), at)))
        elif rng is not None and rng in self.vocab.classes:
            self.triples.append((iri, RDF.type, rng))
        for k, v in value.items():
            if k != "type":
                self.add(iri, k, v, at)
        return iri

    def class_iri(self, name: str, at: Location) -> URIRef:
        iri = expand(name, at) if ":" in name else FKG[name]
        if iri not in self.vocab.classes:
            raise at.error(f"unknown class '{name}' (not an owl:Class in the ontology)")
        return iri

    def add(self, subject: URIRef, key: str, value: Any, at: Location) -> None:
        """Add the triples of one key; each defect goes to self.errors and the rest goes on."""
        try:
            prop = expand(key, at) if ":" in key else FKG[key]
            if not self.vocab.is_property(prop):
                raise at.error(f"unknown property '{key}' (not declared in the ontology)")
        except StatementError as exc:
            self.errors.append(exc)
            return
        for v in value if isinstance(value, list) else [value]:
            try:
                if prop in self.vocab.object_properties:
                    obj = (self.node(subject, key, prop, v, at) if isinstance(v, dict)
                           else self.reference(prop, v, at))
                    self.triples.append((subject, prop, obj))
                else:
                    self.triples += [(subject, prop, lit) for lit in self.literal(prop, v, at)]
            except StatementError as exc:
                self.errors.append(exc)

    def build(self) -> list[Triple]:
        """The record's triples; its defects, all of them, are in self.errors afterwards."""
        rec = self.record
        # A record without a subject is still checked, against a placeholder never published.
        subject = ID["-"]
        if rec.subject:
            try:
                subject = entity_iri(rec.subject, rec.where("subject"))
            except StatementError as exc:
                self.errors.append(exc)
        if rec.type is not None:
            try:
                self.triples.append((subject, RDF.type,
                                     self.class_iri(rec.type, rec.where("type"))))
            except StatementError as exc:
                self.errors.append(exc)
        if rec.label is not None:
            self.add(subject, "rdfs:label", rec.label, rec.where("label"))
        for p in rec.properties:
            self.add(subject, p.key, p.value, p.at)
        return self.triples


def claim_iri(triples: list[Triple], source: str, locator: str) -> URIRef:
    """A claim's IRI hashes its triples, source and locator: stable, order-independent."""
    lines = sorted(" ".join(t.n3() for t in triple) for triple in triples)
    payload = "\n".join([*lines, source, locator]).encode("utf-8")
    return CLAIM[hashlib.sha1(payload).hexdigest()[:16]]


def _issued(value: str, at: Location) -> Literal:
    for pattern, dtype in ((r"^\d{4}$", XSD.gYear), (r"^\d{4}-(0[1-9]|1[0-2])$", XSD.gYearMonth)):
        if re.match(pattern, value):
            return Literal(value, datatype=dtype)
    if values.is_date(value):
        return Literal(value, datatype=XSD.date)
    raise at.error(f"'issued' must be YYYY, YYYY-MM or YYYY-MM-DD naming a month or day that "
                   f"exists, got '{value}'")


def _url(value: str, at: Location) -> Literal:
    if not re.match(r"^https?://\S+$", value):
        raise at.error(f"malformed IRI: url '{value}' (only http and https addresses)")
    return Literal(str(values.iri(value, frozenset({"http", "https"}), at)),
                   datatype=XSD.anyURI)


def source_triples(src: Source) -> list[Triple]:
    s = SOURCE[src.id]
    title = Literal(src.title)
    out: list[Triple] = [(s, RDF.type, DCTERMS.BibliographicResource),
                         (s, RDFS.label, title), (s, DCTERMS.title, title)]
    optional = ((DCTERMS.publisher, src.publisher), (DCTERMS.creator, src.author),
                (FKG.sourceType, src.type), (DCTERMS.language, src.language),
                (RDFS.comment, src.note))
    out += [(s, p, Literal(v)) for p, v in optional if v]
    if src.issued:
        out.append((s, DCTERMS.issued, _issued(src.issued, src.at)))
    if src.url:
        out.append((s, SCHEMA.url, _url(src.url, src.at)))
    if src.read_via:
        copy = URIRef(f"{s}/copy")
        out += [(s, FKG.consultedCopy, copy), (copy, RDF.type, FKG.SourceCopy),
                (copy, PROV.alternateOf, s), (copy, SCHEMA.url, _url(src.read_via["url"], src.at))]
        if src.read_via.get("publisher"):
            out.append((copy, DCTERMS.publisher, Literal(src.read_via["publisher"])))
    return out


def to_dataset(corpus: Corpus, ontology: Graph) -> Built:
    """Build the asserted dataset: claim graphs, the provenance graph and the ontology graph."""
    vocab = Vocabulary.from_graph(ontology)
    templates = links.iri_templates(ontology)
    errors: list[StatementError] = list(corpus.errors)
    declared: dict[str, Record] = {}
    for rec in corpus.records:
        if rec.type is None:
            continue
        if rec.subject in declared:
            first = declared[rec.subject].at
            errors.append(rec.where("type").error(
                f"entity '{rec.subject}' is declared twice (first at {first.path}:{first.line})"))
        else:
            declared[rec.subject] = rec
    ds = Dataset()
    # Flows, events, observations and findings are n-ary nodes, counted apart from entities.
    situation_classes = set(ontology.transitive_subjects(RDFS.subClassOf, FKG.Situation))
    situations = sum(1 for r in declared.values()
                     if r.type is not None and FKG[r.type] in situation_classes)
    built = Built(dataset=ds, entities=len(declared) - situations, situations=situations,
                  sources=len(corpus.sources))
    prov = ds.graph(PROVENANCE_GRAPH)
    claims: dict[URIRef, Record] = {}
    names = set(declared)
    for rec in corpus.records:
        if rec.subject and rec.subject not in declared and SLUG.match(rec.subject):
            errors.append(rec.where("subject").error(
                f"dangling reference: subject '{rec.subject}' is not declared "
                "(no record gives it a type)"))
        if rec.label is not None and rec.type is None:
            errors.append(rec.where("label").error("'label' belongs on the record that "
                                                   "declares the entity (the one with 'type')"))
        builder = _ClaimBuilder(vocab, names, rec, built.locations)
        triples = builder.build()
        errors += builder.errors
        if builder.errors or not rec.complete:
            continue
        try:
            derived = links.exact_matches(triples, templates, rec.at)
        except StatementError as exc:
            errors.append(exc)
            continue
        iri = claim_iri(triples, rec.source, rec.locator)
        if iri in claims:
            errors.append(rec.at.error(f"record '{rec.id}' repeats the claim of record "
                                       f"'{claims[iri].id}' (same facts, source and locator)"))
            continue
        claims[iri] = rec
        built.locations[iri] = rec.at
        built.locations.setdefault(ID[rec.subject], rec.at)
        g = ds.graph(iri)
        # The links follow from the ids, so they share the claim but not its content hash.
        for t in triples + derived:
            g.add(t)
        meta: list[tuple[Node, Node]] = [
            (RDF.type, FKG.Claim), (PROV.wasDerivedFrom, SOURCE[rec.source]),
            (FKG.locator, Literal(rec.locator)), (FKG.recordId, Literal(rec.id)),
            (DCTERMS.description, Literal(rec.text, lang="en")),
            (DCTERMS.subject, ID[rec.subject])]
        if rec.confidence:
            meta.append((FKG.confidence, CONFIDENCE[rec.confidence]))
        if rec.primary:
            meta.append((FKG.primarySource, SOURCE[rec.primary]))
        if rec.note:
            meta.append((FKG.curatorNote, Literal(rec.note.strip())))
        for p, o in meta:
            prov.add((iri, p, o))
    for src in corpus.sources.values():
        built.locations[SOURCE[src.id]] = src.at
        try:
            for t in source_triples(src):
                prov.add(t)
        except StatementError as exc:
            errors.append(exc)
    errors += cycles.find(ds, ontology, built.locations)
    if errors:
        raise StatementErrors(errors)
    onto = ds.graph(ONTOLOGY_GRAPH)
    for t in ontology:
        onto.add(t)
    built.claims = len(claims)
    return built
