"""The build: statements -> RDF -> SHACL -> OWL 2 RL -> release. The only caller of every stage."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rdflib import RDF, Dataset, Graph, Literal, URIRef
from rdflib.compare import to_canonical_graph
from rdflib.namespace import DCTERMS, XSD

from fentanyl_kg import bundled, links, rdf, reason, statements, store, validate
from fentanyl_kg.errors import ValidationFailed
from fentanyl_kg.namespaces import (
    BASE,
    GRAPH,
    INFERRED_GRAPH,
    ONTOLOGY_GRAPH,
    PROVENANCE_GRAPH,
    VOID,
)
from fentanyl_kg.store import Quad, Release

Progress = Callable[[str], None]


@dataclass
class Checked:
    """What `validate` produces: the asserted dataset and its validation report."""

    built: rdf.Built
    report: validate.Report
    ontology: Graph


def _quiet(_: str) -> None:
    pass


class _Steps:
    """Prints each step with its duration, so a long build shows where it is."""

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress, self.total, self.n = progress, total, 0

    def run(self, label: str, fn: Callable[[], object]) -> object:
        self.n += 1
        start = time.perf_counter()
        self.progress(f"[{self.n}/{self.total}] {label} ...")
        result = fn()
        self.progress(f"[{self.n}/{self.total}] {label}: done in "
                      f"{time.perf_counter() - start:.1f} s")
        return result


def check(data_dir: Path, progress: Progress = _quiet, steps: _Steps | None = None) -> Checked:
    """Load and validate; raise StatementErrors or ValidationFailed."""
    steps = steps or _Steps(progress, 3)
    ontology = bundled.ontology()
    corpus: statements.Corpus = steps.run(  # type: ignore[assignment]
        "reading statements", lambda: statements.load(data_dir))
    built: rdf.Built = steps.run(  # type: ignore[assignment]
        "building RDF", lambda: rdf.to_dataset(corpus, ontology))
    report: validate.Report = steps.run(  # type: ignore[assignment]
        "validating with SHACL",
        lambda: validate.check(built.dataset, bundled.shapes(), ontology, built.locations))
    for w in report.warnings:
        progress(f"warning: {w}")
    for line in links.coverage(built.dataset, ontology):
        progress(line)
    if report.violations:
        raise ValidationFailed([str(v) for v in report.violations], store.turtle(report.graph)
                               .decode())
    return Checked(built=built, report=report, ontology=ontology)


def build(data_dir: Path, out_dir: Path, progress: Progress = _quiet) -> Release:
    """Build, validate, reason and write a release; the previous release survives any failure."""
    steps = _Steps(progress, 5)
    checked = check(Path(data_dir), progress, steps)
    ds = checked.built.dataset
    inference: reason.Inference = steps.run(  # type: ignore[assignment]
        "OWL 2 RL reasoning", lambda: reason.infer(ds, checked.ontology))
    if inference.inconsistencies:
        raise ValidationFailed([f"OWL 2 RL: {m}" for m in inference.inconsistencies], "")
    quads = _quads(ds, inference.graph)
    counts = _counts(checked, quads)

    def write() -> Release:
        files = {"dataset.nq": store.nquads(quads), "dataset.trig": store.trig(quads),
                 "void.ttl": store.turtle(void(counts)),
                 "validation.ttl": store.turtle(checked.report.graph)}
        return store.write(Path(out_dir), files, counts, input_digest(Path(data_dir)))

    return steps.run("writing release", write)  # type: ignore[return-value]


def input_digest(data_dir: Path) -> str:
    """A digest of everything a build reads: the data folder and the bundled ontology files.

    `serve` compares it with the current release's to decide whether to rebuild."""
    h = hashlib.sha1()
    for t in bundled.turtle_files():
        h.update(f"ontology/{t.name}\0".encode() + t.read_bytes() + b"\0")
    for p in sorted(f for f in Path(data_dir).rglob("*") if f.is_file()):
        h.update(f"{p.relative_to(data_dir).as_posix()}\0".encode() + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def is_current(release: Release | None, data_dir: Path) -> bool:
    """Whether a release exists and was not built from other data or ontology than now.

    A release that does not record its inputs (one made by other tools) counts as current."""
    return release is not None and release.inputs in ("", input_digest(data_dir))


def _quads(ds: Dataset, inferred: Graph) -> list[Quad]:
    out: list[Quad] = []
    for ctx in ds.graphs():
        name = ctx.identifier
        if not isinstance(name, URIRef):
            continue  # the empty default graph
        # The ontology has blank nodes (lists, axioms); canonical labels keep output stable.
        g = to_canonical_graph(ctx) if name == ONTOLOGY_GRAPH else ctx
        out += [(s, p, o, name) for s, p, o in g]
    out += [(s, p, o, INFERRED_GRAPH) for s, p, o in inferred]
    return out


def _counts(checked: Checked, quads: list[Quad]) -> dict[str, int]:
    per: dict[str, int] = {"asserted_triples": 0, "inferred_triples": 0,
                           "provenance_triples": 0, "ontology_triples": 0}
    key = {INFERRED_GRAPH: "inferred_triples", PROVENANCE_GRAPH: "provenance_triples",
           ONTOLOGY_GRAPH: "ontology_triples"}
    for q in quads:
        per[key.get(q[3], "asserted_triples")] += 1  # type: ignore[call-overload]
    b = checked.built
    return {**per, "claims": b.claims, "entities": b.entities, "situations": b.situations,
            "sources": b.sources,
            "quads": len(quads), "warnings": len(checked.report.warnings)}


def void(counts: dict[str, int]) -> Graph:
    """A VoID description of the release with its counts."""
    g = Graph()
    ds = URIRef(BASE + "dataset")
    g.add((ds, RDF.type, VOID.Dataset))
    g.add((ds, DCTERMS.title, Literal("fentanyl-kg", lang="en")))
    g.add((ds, DCTERMS.description, Literal(
        "A citation-traced knowledge graph of the illicit fentanyl economy in Mexico, the "
        "United States and Canada. Every asserted triple sits in a claim graph whose "
        "source and locator are in the provenance graph.", lang="en")))
    g.add((ds, VOID.uriSpace, Literal(BASE + "id/")))
    g.add((ds, VOID.vocabulary, URIRef(BASE + "ontology#")))
    g.add((ds, VOID.triples, Literal(counts["quads"], datatype=XSD.integer)))
    g.add((ds, VOID.entities, Literal(counts["entities"], datatype=XSD.integer)))
    for name, key in (("claims", "asserted_triples"), ("provenance", "provenance_triples"),
                      ("ontology", "ontology_triples"), ("inferred", "inferred_triples")):
        part = URIRef(BASE + "dataset/" + name)
        g.add((ds, VOID.subset, part))
        g.add((part, RDF.type, VOID.Dataset))
        g.add((part, VOID.triples, Literal(counts[key], datatype=XSD.integer)))
        if name != "claims":
            g.add((part, DCTERMS.source, GRAPH[name]))
    g.add((URIRef(BASE + "dataset/claims"), VOID.documents,
           Literal(counts["claims"], datatype=XSD.integer)))
    return g
