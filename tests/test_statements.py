"""Each kind of bad statement file gives an error naming the file, the line and the problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fentanyl_kg import bundled, rdf, statements
from fentanyl_kg.errors import StatementErrors
from paths import MINI

GOOD = """\
- id: extra-1
  subject: mexico
  text: Mexico borders the United States.
  source: brief
  locator: page 9
  bordersOn: united-states
"""

# (case id, file content, expected line, expected words in the message)
CASES = [
    ("malformed-iri", GOOD.replace("subject: mexico", "subject: Mexico City"), 2,
     "malformed IRI"),
    ("malformed-iri-value", GOOD + "  skos:exactMatch: <http://exa mple.org/x>\n", 7,
     "malformed IRI"),
    ("wrong-datatype", GOOD + "  startYear: twenty\n", 7, "wrong datatype"),
    ("wrong-datatype-boolean", GOOD.replace("bordersOn: united-states", "quantity:\n"
     "    amount: 5\n    summable: maybe"), 6, "wrong datatype"),
    ("unknown-source", GOOD.replace("source: brief", "source: nosuchsource"), 4,
     "unknown source key 'nosuchsource'"),
    ("missing-locator", GOOD.replace("  locator: page 9\n", ""), 1,
     "missing required field(s): locator"),
    ("duplicate-id", GOOD.replace("id: extra-1", "id: s1"), 1, "duplicate id 's1'"),
    ("dangling-reference", GOOD.replace("bordersOn: united-states", "bordersOn: atlantis"), 6,
     "dangling reference: entity 'atlantis'"),
    ("dangling-subject", GOOD.replace("subject: mexico", "subject: atlantis"), 2,
     "dangling reference: subject 'atlantis'"),
    ("unknown-property", GOOD.replace("bordersOn:", "bordersWith:"), 6,
     "unknown property 'bordersWith'"),
    ("class-as-property", GOOD.replace("bordersOn:", "Country:"), 6,
     "unknown property 'Country'"),
    ("unknown-class", GOOD.replace("  text:", "  type: Planet\n  text:"), 3,
     "unknown class 'Planet'"),
    ("declared-twice", GOOD.replace("  text:", "  type: Country\n  text:"), 3,
     "declared twice"),
    ("malformed-yaml", GOOD.replace("  locator: page 9", "  locator: [page 9"), 6,
     "malformed YAML"),
    ("duplicate-key", GOOD.replace("  locator: page 9", "  locator: page 9\n  locator: p 10"), 6,
     "duplicate key 'locator'"),
    ("not-a-list", "id: x\nsubject: mexico\n", 1, "expected a YAML list"),
    ("bad-confidence", GOOD + "  confidence: certain\n", 7, "confidence 'certain'"),
    ("bad-language", GOOD.replace("  text:", "  skos:altLabel: {english: MX}\n  text:"), 3,
     "not a language code"),
]


def _tree(tmp_path: Path, name: str, content: bytes) -> Path:
    data = tmp_path / "data"
    shutil.copytree(MINI, data)
    (data / "statements" / name).write_bytes(content)
    return data


def _errors(data: Path) -> list[str]:
    with pytest.raises(StatementErrors) as info:
        corpus = statements.load(data)
        rdf.to_dataset(corpus, bundled.ontology())
    return [str(e) for e in info.value.errors]


@pytest.mark.parametrize(("content", "line", "words"),
                         [pytest.param(c, n, w, id=i) for i, c, n, w in CASES])
def test_bad_statement_names_file_and_line(tmp_path: Path, content: str, line: int,
                                           words: str) -> None:
    data = _tree(tmp_path, "zz_bad.yaml", content.encode("utf-8"))
    errors = _errors(data)
    expected = f"{data / 'statements' / 'zz_bad.yaml'}:{line}: "
    assert any(e.startswith(expected) and words in e for e in errors), errors


def test_non_utf8_file(tmp_path: Path) -> None:
    content = GOOD.replace("page 9", "página 9").encode("latin-1")
    data = _tree(tmp_path, "zz_latin1.yaml", content)
    errors = _errors(data)
    assert errors == [f"{data / 'statements' / 'zz_latin1.yaml'}:5: not valid UTF-8 "
                      "(byte 0xe1 at offset 102); save the file as UTF-8"]


def test_bad_source_entry(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(MINI, data)
    with open(data / "sources.yaml", "a", encoding="utf-8") as fh:
        fh.write("- id: broken\n  title: Broken\n  issued: September 2025\n"
                 "  url: not a url\n")
    errors = _errors(data)
    assert any(e.startswith(f"{data / 'sources.yaml'}:") and "'issued'" in e for e in errors)


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    bad = GOOD.replace("source: brief", "source: nosuch") + GOOD.replace(
        "extra-1", "extra-2").replace("bordersOn: united-states", "bordersOn: atlantis")
    errors = _errors(_tree(tmp_path, "zz_two.yaml", bad.encode()))
    assert len(errors) == 2


def test_good_tree_loads_with_lines() -> None:
    corpus = statements.load(MINI)
    assert {r.id for r in corpus.records} >= {"mexico", "s1", "s4"}
    s4 = next(r for r in corpus.records if r.id == "s4")
    assert s4.at.path.name == "facts.yaml" and s4.at.line > 1
    assert s4.primary == "wire" and s4.confidence is None
    assert corpus.sources["wire"].read_via == {"publisher": "copysite.example",
                                               "url": "https://copysite.example/story"}
