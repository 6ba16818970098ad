"""Each kind of bad statement file gives an error naming the file, the line and the problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rdflib import Literal, URIRef
from rdflib.namespace import SKOS

from fentanyl_kg import bundled, rdf, statements, strict_yaml
from fentanyl_kg.errors import StatementErrors
from fentanyl_kg.namespaces import FKG
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
    # Issue 6, point 9: impossible dates and lone surrogates used to crash with a traceback.
    ("impossible-date", GOOD + "  startDate: 2024-13-45\n", 7, "takes a date that exists"),
    ("impossible-day", GOOD + "  endDate: 2025-02-29\n", 7, "takes a date that exists"),
    ("lone-surrogate", GOOD + '  periodLabel: "\\ud800"\n', 7, "U+D800 (a lone surrogate)"),
    # Point 11: characters no published text may hold, escaped or raw.
    ("escaped-nul", GOOD + '  periodLabel: "a\\0b"\n', 7, "U+0000 (a control character)"),
    ("raw-nul", GOOD + "  periodLabel: a\0b\n", 7, "U+0000 (a control character)"),
    ("raw-escape", GOOD + "  periodLabel: a\x1b[31mb\n", 7, "U+001B"),
    ("bidi-override", GOOD + "  periodLabel: abc\u202edef\n", 7, "U+202E (a bidi override"),
    ("bidi-isolate", GOOD + '  periodLabel: "\\u2066x"\n', 7, "U+2066 (a bidi override"),
    ("noncharacter", GOOD + "  periodLabel: a\ufdd0\n", 7, "U+FDD0 (a Unicode noncharacter)"),
    ("noncharacter-astral", GOOD + '  periodLabel: "\\U0001FFFE"\n', 7, "U+1FFFE"),
    ("control-in-key", GOOD + '  "period\\x07Label": x\n', 7, "U+0007"),
    ("javascript-iri", GOOD + "  skos:exactMatch: <javascript:alert(1)>\n", 7,
     "scheme 'javascript:'; only http, https, urn are allowed"),
    ("file-iri", GOOD + "  rdfs:seeAlso: <file:///etc/passwd>\n", 7, "scheme 'file:'"),
    ("data-iri", GOOD + "  rdfs:seeAlso: <data:text/html,hi>\n", 7, "scheme 'data:'"),
    # Point 10: a value that does not fit its datatype is refused, never coerced.
    ("boolean-yes", GOOD.replace("bordersOn: united-states", "quantity:\n    amount: 5\n"
     "    summable: yes"), 6, "takes true or false, got 'yes'"),
    ("boolean-capitalised", GOOD.replace("bordersOn: united-states", "quantity:\n"
     "    amount: 5\n    summable: True"), 6, "takes true or false, got 'True'"),
    ("decimal-underscore", GOOD.replace("bordersOn: united-states", "quantity:\n"
     "    amount: 1_000"), 6, "takes a number such as 83.5"),
    ("decimal-exponent", GOOD.replace("bordersOn: united-states", "quantity:\n"
     "    amount: 1.5e6"), 6, "takes a number such as 83.5"),
    ("year-sexagesimal", GOOD + "  startYear: 20:24\n", 7, "takes a year written YYYY"),
    ("empty-value", GOOD + "  periodLabel:\n", 7, "has an empty value"),
    ("plain-null", GOOD + "  periodLabel: null\n", 7, "means \"no value\" in YAML"),
    ("plain-tilde", GOOD + "  periodLabel: ~\n", 7, "means \"no value\" in YAML"),
    ("explicit-tag", GOOD + "  periodLabel: !!int 5\n", 7, "YAML tags such as"),
    ("python-tag", GOOD + "  periodLabel: !!python/object:os.system x\n", 7,
     "YAML tags such as"),
    # Point 12: no aliases (a few nested ones expand to gigabytes).
    ("alias", GOOD + "  periodLabel: &a x\n  population: *a\n", 7, "anchors (&name)"),
    ("deep-nesting", GOOD + "  note: " + "[" * 40 + "]" * 40 + "\n", 7, "levels deep"),
    ("text-as-list", GOOD.replace("locator: page 9", "locator: [page 9, page 10]"), 5,
     "'locator' must be text, got a list"),
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


def _literals(data: Path, prop: str) -> list[str]:
    built = rdf.to_dataset(statements.load(data), bundled.ontology())
    return sorted(str(o) for _, _, o, _ in built.dataset.quads((None, FKG[prop], None, None)))


def test_values_reach_the_graph_as_written(tmp_path: Path) -> None:
    """YAML 1.1 made NO false, 12:30:00 the number 45000, 0123 the octal 83 and 1.10 the
    float 1.1; each value now reaches the graph as the string the curator wrote."""
    content = GOOD.replace("bordersOn: united-states", "periodLabel: NO\n  schedule: 12:30:00\n"
                           "  wikidataId: 0123\n  designationType: 1.10\n  offence: '~'\n"
                           "  population: \"null\"\n  skos:altLabel: {no: Mexiko}")
    data = _tree(tmp_path, "zz_values.yaml", content.encode())
    assert _literals(data, "periodLabel") == ["NO"]
    assert _literals(data, "schedule") == ["12:30:00"]
    assert "0123" in _literals(data, "wikidataId")
    assert _literals(data, "designationType") == ["1.10"]
    assert "~" in _literals(data, "offence") and "null" in _literals(data, "population")
    built = rdf.to_dataset(statements.load(data), bundled.ontology())
    assert any(o.language == "no" for _, _, o, _ in built.dataset.quads(
        (None, SKOS.altLabel, None, None)))


def test_decimals_are_exact_and_canonical(tmp_path: Path) -> None:
    """An xsd:decimal is published in the canonical form the store serves, computed from the
    digits written: never through a float, which would round the last digits away."""
    content = GOOD.replace("bordersOn: united-states", "quantity:\n    amount: 1.10\n"
                           "    minAmount: 007\n    maxAmount: 12345678901234567.891\n"
                           "    summable: false")
    data = _tree(tmp_path, "zz_decimal.yaml", content.encode())
    assert "1.1" in _literals(data, "amount")
    assert _literals(data, "minAmount") == ["7"]
    assert _literals(data, "maxAmount") == ["12345678901234567.891"]
    assert "false" in _literals(data, "summable")


def test_every_defect_of_every_record_in_one_run(tmp_path: Path) -> None:
    """A duplicate key no longer hides the rest of the file, nor one defect the next."""
    content = (GOOD + "  startYear: twenty\n  endYear: x\n  bordersOn: atlantis\n"
               + GOOD.replace("extra-1", "extra-2").replace("  locator: page 9\n", "")
               + "  startDate: 2024-02-30\n  unknownKey: 1\n")
    data = _tree(tmp_path, "zz_many.yaml", content.encode())
    errors = _errors(data)
    f = f"{data / 'statements' / 'zz_many.yaml'}"
    expected = [(f"{f}:9:", "duplicate key 'bordersOn'"), (f"{f}:7:", "startYear"),
                (f"{f}:8:", "endYear"), (f"{f}:10:", "missing required field(s): locator"),
                (f"{f}:15:", "startDate"), (f"{f}:16:", "unknown property 'unknownKey'")]
    for prefix, words in expected:
        assert any(e.startswith(prefix) and words in e for e in errors), (prefix, errors)
    assert len(errors) == len(expected), errors


def test_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    """Billion laughs: nine levels of nine aliases ran past 60 s and 1.3 GB."""
    levels = ["  note:", "  - &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    levels += [f"  - &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    data = _tree(tmp_path, "zz_bomb.yaml", (GOOD + "\n".join(levels) + "\n").encode())
    errors = _errors(data)
    assert any(":8: malformed YAML: anchors (&name) are not allowed" in e for e in errors)


def test_file_size_limit(tmp_path: Path) -> None:
    filler = ("# " + "x" * 97 + "\n") * (strict_yaml.MAX_FILE_BYTES // 100 + 1)
    data = _tree(tmp_path, "zz_big.yaml", (GOOD + filler).encode())
    errors = _errors(data)
    assert any(e.startswith(f"{data / 'statements' / 'zz_big.yaml'}: the file is ")
               and "over the limit of 1,000,000" in e for e in errors), errors


def test_record_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statements, "MAX_RECORDS", 2)
    content = "".join(GOOD.replace("extra-1", f"extra-{i}") for i in range(3))
    errors = _errors(_tree(tmp_path, "zz_many.yaml", content.encode()))
    assert any(":1: the file holds 3 records, over the limit of 2" in e for e in errors)


def test_bad_source_dates_are_errors(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(MINI, data)
    with open(data / "sources.yaml", "a", encoding="utf-8") as fh:
        fh.write("- id: bad-day\n  title: Bad day\n  issued: 2025-02-30\n"
                 "- id: bad-month\n  title: Bad month\n  issued: 2025-13\n"
                 "- id: bad-url\n  title: Bad URL\n  url: javascript:alert(1)\n")
    errors = [e for e in _errors(data) if e.startswith(f"{data / 'sources.yaml'}:")]
    assert len([e for e in errors if "'issued' must be" in e]) == 2, errors
    assert any("url 'javascript:alert(1)'" in e for e in errors), errors


def test_the_ontology_may_allow_more_iri_schemes(tmp_path: Path) -> None:
    """Only http, https and urn by default; a property's fkg:iriScheme adds a scheme."""
    data = _tree(tmp_path, "zz_doi.yaml", (GOOD + "  skos:exactMatch: <doi:10.1000/182>\n"
                                           "  rdfs:seeAlso: <urn:isbn:0451450523>\n").encode())
    with pytest.raises(StatementErrors, match="scheme 'doi:'"):
        rdf.to_dataset(statements.load(data), bundled.ontology())
    ontology = bundled.ontology()
    ontology.add((SKOS.exactMatch, FKG.iriScheme, Literal("doi")))
    built = rdf.to_dataset(statements.load(data), ontology)
    assert any(built.dataset.quads((None, SKOS.exactMatch, URIRef("doi:10.1000/182"), None)))
