"""SHACL shape tests, driven by tests/shapes/manifest.ttl.

Each manifest entry is a TriG file loaded on top of a shared background
dataset and the ontology graph, then validated with ontology/shapes.ttl using
the same pyshacl arguments as the build. The entry lists the validation
results it expects; the case passes when the report holds exactly those.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyshacl
import pytest
from bundled_graphs import ontology, shapes
from rdflib import RDF, RDFS, Dataset, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import SH
from rdflib.term import Node

from fentanyl_kg.namespaces import ONTOLOGY_GRAPH

# rdflib 7.6 calls its own deprecated APIs inside Dataset.parse (ConjunctiveGraph,
# Dataset.default_context); those warnings come from rdflib's modules. Deprecated
# calls from our own code are attributed to our modules and still fail the run.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:rdflib.*")

MANIFEST = Path(__file__).parent / "shapes" / "manifest.ttl"
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
FKGT = Namespace("https://w3id.org/fentanyl-kg/tests/shapes#")

# Result properties a manifest pattern may constrain.
RESULT_KEYS = (
    SH.sourceShape,
    SH.sourceConstraintComponent,
    SH.sourceConstraint,
    SH.focusNode,
    SH.resultPath,
    SH.value,
    SH.resultSeverity,
)

# Shape parameters that are constraints, with the component a result names.
COMPONENTS: dict[Node, URIRef] = {
    SH.minCount: SH.MinCountConstraintComponent,
    SH.maxCount: SH.MaxCountConstraintComponent,
    SH["class"]: SH.ClassConstraintComponent,
    SH.datatype: SH.DatatypeConstraintComponent,
    SH.nodeKind: SH.NodeKindConstraintComponent,
    SH.pattern: SH.PatternConstraintComponent,
    SH.minLength: SH.MinLengthConstraintComponent,
    SH.maxLength: SH.MaxLengthConstraintComponent,
    SH.minInclusive: SH.MinInclusiveConstraintComponent,
    SH.maxInclusive: SH.MaxInclusiveConstraintComponent,
    SH.minExclusive: SH.MinExclusiveConstraintComponent,
    SH.maxExclusive: SH.MaxExclusiveConstraintComponent,
    SH.languageIn: SH.LanguageInConstraintComponent,
    SH.uniqueLang: SH.UniqueLangConstraintComponent,
    SH.lessThan: SH.LessThanConstraintComponent,
    SH.lessThanOrEquals: SH.LessThanOrEqualsConstraintComponent,
    SH.equals: SH.EqualsConstraintComponent,
    SH.disjoint: SH.DisjointConstraintComponent,
    SH["in"]: SH.InConstraintComponent,
    SH.hasValue: SH.HasValueConstraintComponent,
    SH["or"]: SH.OrConstraintComponent,
    SH["and"]: SH.AndConstraintComponent,
    SH["not"]: SH.NotConstraintComponent,
    SH.xone: SH.XoneConstraintComponent,
    SH.node: SH.NodeConstraintComponent,
    SH.qualifiedMinCount: SH.QualifiedMinCountConstraintComponent,
    SH.qualifiedMaxCount: SH.QualifiedMaxCountConstraintComponent,
    SH.closed: SH.ClosedConstraintComponent,
}
# Shape parameters that are not constraints of their own.
NOT_CONSTRAINTS = {
    SH.targetClass,
    SH.targetNode,
    SH.targetSubjectsOf,
    SH.targetObjectsOf,
    SH.target,
    SH.path,
    SH.property,
    SH.sparql,
    SH.message,
    SH.severity,
    SH.name,
    SH.description,
    SH.deactivated,
    SH.order,
    SH.group,
    SH.qualifiedValueShape,
    SH.flags,
    SH.ignoredProperties,
}


@dataclass(frozen=True)
class Case:
    name: str
    comment: str
    data: Path
    conforms: bool
    expected: tuple[dict[URIRef, Node], ...]
    known_gap: str | None


def _file(iri: Node | None) -> Path:
    return Path(unquote(urlparse(str(iri)).path))


@cache
def load_manifest() -> tuple[Path, tuple[Case, ...]]:
    """The background file and the cases listed in manifest.ttl, in order."""
    g = Graph().parse(data=MANIFEST.read_text("utf-8"), format="turtle", publicID=MANIFEST.as_uri())
    manifest = g.value(predicate=RDF.type, object=MF.Manifest)
    background = _file(g.value(manifest, FKGT.background))
    cases = []
    entries = g.value(manifest, MF.entries)
    assert entries is not None, f"{MANIFEST} lists no mf:entries"
    for entry in Collection(g, entries):
        expected = []
        for pattern in g.objects(entry, FKGT.expect):
            wanted: dict[URIRef, Node] = {SH.resultSeverity: SH.Violation}
            wanted.update((p, o) for p, o in g.predicate_objects(pattern) if isinstance(p, URIRef))
            expected.append(wanted)
        gap = g.value(entry, FKGT.knownGap)
        cases.append(
            Case(
                name=str(g.value(entry, MF.name)),
                comment=str(g.value(entry, RDFS.comment)),
                data=_file(g.value(entry, MF.action)),
                conforms=g.value(entry, FKGT.conforms) == Literal(True),
                expected=tuple(expected),
                known_gap=str(gap) if gap is not None else None,
            )
        )
    return background, tuple(cases)


def load_case(case: Case) -> Dataset:
    """The background, the case file and the ontology graph, as one Dataset (as the build has)."""
    background, _ = load_manifest()
    ds = Dataset()
    for path in (background, case.data):
        # Parse text, not the path: Dataset.parse(path) leaves the file open (ResourceWarning).
        ds.parse(data=path.read_text("utf-8"), format="trig", publicID=path.as_uri())
    ontology_graph = ds.graph(ONTOLOGY_GRAPH)
    ontology_graph += ontology()
    return ds


def validate(ds: Dataset) -> tuple[bool, Graph]:
    """Validate exactly as server/fentanyl_kg/validate.py does."""
    conforms, report, _ = pyshacl.validate(
        data_graph=ds,
        shacl_graph=shapes(),
        ont_graph=ontology(),
        inference="none",
        advanced=True,
        allow_warnings=True,
    )
    return bool(conforms), report


def results(report: Graph) -> list[dict[URIRef, Node]]:
    out = []
    for result in report.objects(None, SH.result):
        row = {key: report.value(result, key) for key in RESULT_KEYS}
        out.append({k: v for k, v in row.items() if v is not None})
    return out


def matches(result: dict[URIRef, Node], pattern: dict[URIRef, Node]) -> bool:
    return all(result.get(key) == value for key, value in pattern.items())


def describe(row: dict[URIRef, Node]) -> str:
    def short(node: Node | None) -> str:
        text = str(node)
        for long, prefix in (
            ("https://w3id.org/fentanyl-kg/shapes#", "fkgsh:"),
            ("http://www.w3.org/ns/shacl#", "sh:"),
            ("https://w3id.org/fentanyl-kg/id/", "id:"),
        ):
            text = text.replace(long, prefix)
        return text

    check = row.get(SH.sourceConstraint) or row.get(SH.sourceConstraintComponent)
    parts = [row.get(SH.sourceShape), check]
    named = " ".join(short(p) for p in parts if p is not None)
    return f"{named} on {short(row.get(SH.focusNode))} ({short(row.get(SH.resultSeverity))})"


def _params() -> list[pytest.ParameterSet]:
    params = []
    for case in load_manifest()[1]:
        marks = [pytest.mark.xfail(reason=case.known_gap, strict=True)] if case.known_gap else []
        params.append(pytest.param(case, id=case.name, marks=marks))
    return params


@pytest.mark.parametrize("case", _params())
def test_shape_case(case: Case) -> None:
    conforms, report = validate(load_case(case))
    found = results(report)
    missing = [p for p in case.expected if not any(matches(r, p) for r in found)]
    unexpected = [r for r in found if not any(matches(r, p) for p in case.expected)]
    problems = [f"expected, not reported: {describe(p)}" for p in missing]
    problems += [f"reported, not expected: {describe(r)}" for r in unexpected]
    if conforms is not case.conforms:
        problems.append(f"conforms is {conforms}, expected {case.conforms}")
    assert not problems, f"{case.name} ({case.comment})\n  " + "\n  ".join(problems)


def constraints_in(shapes_graph: Graph) -> set[tuple[Node, Node]]:
    """Every (shape, component) and (shape-holding SPARQL constraint, sh:SPARQLConstraint) pair."""
    named_shapes = set(shapes_graph.subjects(RDF.type, SH.NodeShape))
    named_shapes |= set(shapes_graph.subjects(RDF.type, SH.PropertyShape))
    named_shapes |= set(shapes_graph.objects(None, SH.property))
    out: set[tuple[Node, Node]] = set()
    for shape in named_shapes:
        for param in set(shapes_graph.predicates(shape, None)):
            if param in COMPONENTS:
                out.add((shape, COMPONENTS[param]))
            elif param == SH.sparql:
                out.update((c, SH.SPARQLConstraint) for c in shapes_graph.objects(shape, SH.sparql))
            elif str(param).startswith(str(SH)):
                assert param in NOT_CONSTRAINTS, f"{shape} uses {param}; map it in test_shapes.py"
    return out


def test_every_constraint_has_a_failing_case() -> None:
    covered: set[tuple[Node, Node]] = set()
    for case in load_manifest()[1]:
        for pattern in case.expected:
            if SH.sourceConstraint in pattern:
                covered.add((pattern[SH.sourceConstraint], SH.SPARQLConstraint))
            elif SH.sourceShape in pattern and SH.sourceConstraintComponent in pattern:
                covered.add((pattern[SH.sourceShape], pattern[SH.sourceConstraintComponent]))
    untested = sorted(f"{s} {c}" for s, c in constraints_in(shapes()) - covered)
    assert not untested, "constraints without a failing fixture:\n  " + "\n  ".join(untested)


def test_manifest_lists_every_data_file() -> None:
    background, cases = load_manifest()
    listed = {background} | {case.data for case in cases}
    on_disk = set(MANIFEST.parent.glob("*.trig"))
    assert on_disk == listed, f"not in manifest: {on_disk - listed}; missing: {listed - on_disk}"
    assert any(case.conforms and not case.expected for case in cases), "need a clean passing case"


def test_claim_graph_checks_need_a_dataset() -> None:
    """pyshacl sees named graphs only in a Dataset; on a plain Graph, GRAPH checks fail loudly."""
    _, cases = load_manifest()
    union = Graph()
    for triple in load_case(cases[0]).triples((None, None, None)):
        union.add(triple)
    with pytest.raises(Exception, match="dataset"):
        validate(union)  # type: ignore[arg-type]
