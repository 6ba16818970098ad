"""Property-based tests of the statement reader (hypothesis).

Whatever a hand-edited file holds, the reader either loads it or raises StatementErrors whose
every message is `file:line: reason`; it never raises anything else. A value written as any
string reaches the graph as exactly that string, or is refused.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Graph, URIRef
from test_statements import GOOD as RECORD

from fentanyl_kg import bundled, rdf, statements, strict_yaml
from fentanyl_kg.errors import StatementErrors
from fentanyl_kg.namespaces import FKG
from paths import MINI

BOUNDED = settings(max_examples=100, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture])

# Pieces of YAML syntax, spliced into a good record to reach the deeper checks.
FRAGMENTS = ["- ", ": ", ":", "\n", "\n  ", "\n    ", "  ", "[", "]", "{", "}", ", ", "&a ",
             "*a", "!!int ", "!x ", '"', "'", "\\u", "\\ud800", "#", "---\n", "...\n", "? ",
             "|\n", ">-\n", "\t", "\r\n", "\x00", "\u202e", "\ufffe", "\ufdd0", "~", "null",
             "NO", "0123", "1.10", "12:30:00", "2024-13-45", "<javascript:x>", "<http://a>",
             "startDate: ", "amount: ", "quantity:\n    ", "label: ", "{en: x}", "type: Place",
             "id: extra-1", "subject: ", "source: nosuch", "en: ", "\ufeff", "\x85", "\u2028"]


@pytest.fixture(scope="module")
def tree() -> Iterator[Path]:
    """A data folder with the mini tree's sources and entities; each example writes one file."""
    folder = Path(tempfile.mkdtemp(prefix="fkg-hostile-"))
    shutil.copytree(MINI, folder / "data")
    (folder / "data" / "statements" / "facts.yaml").unlink()
    yield folder / "data"
    shutil.rmtree(folder)


@pytest.fixture(scope="module")
def ontology() -> Graph:
    return bundled.ontology()


def _run(tree: Path, ontology: Graph, content: bytes) -> rdf.Built | None:
    """Load and type `content` as a statement file; None when it was refused, properly."""
    target = tree / "statements" / "zz.yaml"
    target.write_bytes(content)
    try:
        return rdf.to_dataset(statements.load(tree), ontology)
    except StatementErrors as exc:
        lines = content.count(b"\n") + 2
        for error in exc.errors:
            assert error.path in (target, tree / "sources.yaml"), str(error)
            assert error.line is not None and 1 <= error.line <= lines, str(error)
            assert re.match(rf"^{re.escape(str(error.path))}:\d+: \S", str(error)), str(error)
        assert exc.errors
        return None


@BOUNDED
@given(st.binary(max_size=400))
def test_any_bytes_load_or_give_file_line_errors(tree: Path, ontology: Graph,
                                                 content: bytes) -> None:
    _run(tree, ontology, content)


@BOUNDED
@given(st.lists(st.tuples(st.integers(0, len(RECORD)),
                          st.sampled_from(FRAGMENTS) | st.text(max_size=4)), max_size=4))
def test_yaml_ish_edits_of_a_record_load_or_give_file_line_errors(
        tree: Path, ontology: Graph, edits: list[tuple[int, str]]) -> None:
    text = RECORD
    for position, fragment in sorted(edits, reverse=True):
        text = text[:position] + fragment + text[position:]
    _run(tree, ontology, text.encode("utf-8", "surrogatepass"))


def _double_quoted(value: str) -> str:
    """The YAML double-quoted form of any string, surrogates and controls escaped."""
    out = []
    for ch in value:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif code < 0x20 or 0x7F <= code <= 0xA0 or 0xD800 <= code <= 0xDFFF or code >= 0xFFFE:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _published(built: rdf.Built, prop: URIRef) -> list[str]:
    return [str(o) for _, _, o, _ in built.dataset.quads((None, prop, None, None))]


@BOUNDED
@given(st.text(max_size=30))
def test_any_quoted_string_round_trips_or_is_refused(tree: Path, ontology: Graph,
                                                      value: str) -> None:
    content = RECORD + f"  periodLabel: {_double_quoted(value)}\n"
    built = _run(tree, ontology, content.encode("utf-8"))
    refusable = value == "" or strict_yaml.FORBIDDEN.search(value) is not None
    if built is None:
        assert refusable, f"{value!r} was refused"
    else:
        assert not refusable and _published(built, FKG.periodLabel) == [value]


# What a curator might type unquoted: words, numbers, dates, times, codes.
PLAIN = st.from_regex(r"[A-Za-z0-9+.][A-Za-z0-9 .:+_/()-]{0,20}[A-Za-z0-9.)]|[A-Za-z0-9]",
                      fullmatch=True)


@BOUNDED
@given(PLAIN)
def test_a_plain_string_is_published_as_written_or_refused(tree: Path, ontology: Graph,
                                                           value: str) -> None:
    built = _run(tree, ontology, (RECORD + f"  periodLabel: {value}\n").encode())
    if built is not None:
        assert _published(built, FKG.periodLabel) == [value]


@BOUNDED
@given(PLAIN | st.from_regex(r"[+-]?\d{0,22}(\.\d{0,20})?", fullmatch=True))
def test_a_decimal_keeps_its_exact_value_or_is_refused(tree: Path, ontology: Graph,
                                                       value: str) -> None:
    content = RECORD.replace("bordersOn: united-states", f"quantity:\n    amount: {value}\n")
    built = _run(tree, ontology, content.encode())
    if built is not None:
        [published] = _published(built, FKG.amount)
        assert re.match(r"^[+-]?(\d+(\.\d*)?|\.\d+)$", value), value
        assert Decimal(published) == Decimal(value)


@BOUNDED
@given(st.from_regex(r"\d{4}-\d{2}-\d{2}", fullmatch=True))
def test_a_date_is_published_only_if_the_day_exists(tree: Path, ontology: Graph,
                                                    value: str) -> None:
    import datetime as dt
    built = _run(tree, ontology, (RECORD + f"  startDate: {value}\n").encode())
    try:
        exists = dt.date.fromisoformat(value).isoformat() == value
    except ValueError:
        exists = False
    assert (built is not None) == exists, value
    if built is not None:
        assert _published(built, FKG.startDate) == [value]
