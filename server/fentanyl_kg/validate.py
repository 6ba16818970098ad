"""SHACL validation with pyshacl; results are mapped back to the file and line that made them."""

from __future__ import annotations

from dataclasses import dataclass

from pyshacl import validate as shacl_validate
from rdflib import RDF, Dataset, Graph, URIRef
from rdflib.compare import to_canonical_graph
from rdflib.term import Node

from fentanyl_kg.namespaces import SH
from fentanyl_kg.statements import Location


@dataclass(frozen=True)
class Finding:
    severity: str  # "Violation", "Warning" or "Info"
    message: str
    focus: str
    shape: str
    where: Location | None

    def __str__(self) -> str:
        place = f"{self.where.path}:{self.where.line}: " if self.where else ""
        return f"{place}{self.message} [{self.severity}: {self.shape}, focus {self.focus}]"


@dataclass
class Report:
    conforms: bool  # SHACL's sh:conforms: true only when there is no result at all
    findings: list[Finding]
    graph: Graph

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "Violation"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity != "Violation"]


def _name(node: Node | None, g: Graph) -> str:
    if node is None:
        return "?"
    if isinstance(node, URIRef):
        return node.n3(g.namespace_manager)
    # An anonymous property shape: name it after its path, which is what a reader knows.
    path = g.value(node, SH.path)
    return f"shape on {path.n3(g.namespace_manager)}" if path is not None else "anonymous shape"


def check(ds: Dataset, shapes: Graph, ontology: Graph,
          locations: dict[URIRef, Location]) -> Report:
    """Validate the dataset (as the union of its graphs) against the shapes.

    The report is SHACL's own: `sh:conforms` is false as soon as there is any result, a
    warning included. Whether the build fails is decided on violations alone (build.check)."""
    data = Dataset(default_union=True)
    for q in ds.quads():
        data.add(q)  # type: ignore[arg-type]
    conforms, report_graph, _ = shacl_validate(
        data_graph=data, shacl_graph=shapes, ont_graph=ontology, inference="none",
        advanced=True, allow_warnings=False, abort_on_first=False)
    findings: list[Finding] = []
    for result in report_graph.subjects(RDF.type, SH.ValidationResult):
        severity = report_graph.value(result, SH.resultSeverity)
        focus = report_graph.value(result, SH.focusNode)
        shape = report_graph.value(result, SH.sourceShape)
        messages = sorted(str(m) for m in report_graph.objects(result, SH.resultMessage))
        where = locations.get(focus) if isinstance(focus, URIRef) else None
        findings.append(Finding(
            severity=str(severity).rsplit("#", 1)[-1] if severity else "Violation",
            message=messages[0] if messages else "constraint not met",
            focus=focus.n3() if focus is not None else "?",
            shape=_name(shape, shapes), where=where))
    findings.sort(key=lambda f: (f.severity != "Violation", str(f.where and f.where.path),
                                 f.where.line if f.where else 0, f.message, f.focus))
    # Blank nodes get canonical labels so the same data always gives the same report bytes.
    return Report(conforms=bool(conforms), findings=findings,
                  graph=to_canonical_graph(report_graph))
