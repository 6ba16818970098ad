"""The validation report is SHACL's own: sh:conforms agrees with its results."""

from __future__ import annotations

import shutil
from pathlib import Path

from rdflib import Graph, Literal

from fentanyl_kg import build
from fentanyl_kg.namespaces import SH
from paths import MINI

# A recommendation without fkg:recommendedBy: a warning in the shapes, not a violation.
WARNED = """\
- id: rec-1
  subject: rec-test
  type: PolicyRecommendation
  label: {en: A test recommendation}
  text: The brief asks Mexico to test more.
  source: brief
  locator: page 3
  targetCountry: [mexico]
  theme: [fkg:PublicHealth]
  statement: {en: Mexico should test more.}
"""


def _report(release_dir: Path) -> Graph:
    return Graph().parse(release_dir / "validation.ttl")


def test_a_report_with_only_warnings_says_it_does_not_conform(tmp_path: Path) -> None:
    """SHACL: sh:conforms is true if and only if there is no validation result. A warning is
    a result, so the report says false, while the build still succeeds (it fails on
    violations only)."""
    data = tmp_path / "data"
    shutil.copytree(MINI, data)
    (data / "statements" / "zz_warned.yaml").write_text(WARNED, encoding="utf-8")
    release = build.build(data, tmp_path / "out")
    report = _report(release.path)
    results = list(report.subjects(SH.resultSeverity, None))
    assert results and all(report.value(r, SH.resultSeverity) == SH.Warning for r in results)
    assert list(report.objects(None, SH.conforms)) == [Literal(False)]
    assert release.counts["warnings"] == len(results)


def test_a_clean_report_conforms(mini_release) -> None:  # type: ignore[no-untyped-def]
    report = _report(mini_release.path)
    results = list(report.subjects(SH.resultSeverity, None))
    assert list(report.objects(None, SH.conforms)) == [Literal(not results)]
