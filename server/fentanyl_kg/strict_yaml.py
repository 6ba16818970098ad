"""A strict YAML reader for hand-edited statement files.

Every plain scalar is read as the string written: YAML 1.1 would turn `NO` into false,
`12:30:00` into 45000 and `0123` into 83 before the ontology could say what the value is.
Typing is left to the ontology (values.py). Aliases, anchors and explicit tags are refused,
files and nesting are bounded, and each mapping remembers its line and the line of each key.
Problems that leave the rest of a file readable (a duplicate key, a forbidden character) are
collected rather than raised, so one run reports every one of them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import BaseConstructor, ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from fentanyl_kg.errors import StatementError

# Limits (documented in graph_data/README.md). The largest real file is ~170 kB; a 19 MB
# file once needed 2.5 GB, so a file over this limit is refused before it is parsed.
MAX_FILE_BYTES = 1_000_000
# Records are at most a few levels deep (record -> quantity -> language map).
MAX_DEPTH = 12

# Characters no published text may hold: C0 controls other than tab and newline, DEL and C1
# controls, lone surrogates, noncharacters, and the bidi embeddings, overrides and isolates
# that make text display in another order than it is stored (Trojan Source).
_ALWAYS = ("\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\u202a-\u202e\u2066-\u2069"
           + "".join(f"{chr(p * 0x10000 + 0xFFFE)}{chr(p * 0x10000 + 0xFFFF)}" for p in range(17)))
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f" + _ALWAYS + "]")
# The raw file may also hold carriage returns (CRLF line ends), which YAML reads as line breaks.
FORBIDDEN_RAW = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f" + _ALWAYS + "]")


# Plain scalars YAML 1.1 and 1.2 read as null.
NULLS = ("~", "null", "Null", "NULL")


def describe(char: str) -> str:
    """Name a forbidden character for a curator: its code point and what kind it is."""
    code = ord(char)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        kind = "a control character"
    elif 0xD800 <= code <= 0xDFFF:
        kind = "a lone surrogate"
    elif 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
        kind = "a bidi override, which makes text display in another order than it reads"
    else:
        kind = "a Unicode noncharacter"
    return f"U+{code:04X} ({kind})"


class Mapping(dict[str, Any]):
    """A YAML mapping that remembers the line of itself and of each key."""

    line: int = 0
    key_lines: dict[str, int]


class Sequence(list[Any]):
    """A YAML sequence that remembers the line of itself and of each item."""

    line: int = 0
    item_lines: list[int]


class _Composer(Composer):
    """Refuses aliases and anchors, and nesting deeper than MAX_DEPTH."""

    depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[attr-defined]  # from the Parser mixin
        mark: Any = event.start_mark
        # Refusing aliases outright is the alias limit: the data uses none, and a few nested
        # aliases expand to gigabytes (billion laughs) in the stages after the reader.
        if isinstance(event, yaml.AliasEvent):
            raise ConstructorError(None, None, "aliases (*name) are not allowed; write the "
                                   "value out", mark)
        if getattr(event, "anchor", None) is not None:
            raise ConstructorError(None, None, "anchors (&name) are not allowed; write the "
                                   "value out", mark)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ConstructorError(None, None, f"nested more than {MAX_DEPTH} levels deep", mark)
        try:
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self.depth -= 1


class _StringResolver(BaseResolver):
    """No implicit resolvers: every plain scalar gets the string tag."""

    yaml_implicit_resolvers: dict[Any, Any] = {}


class _Constructor(BaseConstructor):
    """Builds strings, Mappings and Sequences only, collecting recoverable problems."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[tuple[int, str]] = []

    def problem(self, node: Node, message: str) -> None:
        self.problems.append((node.start_mark.line + 1, message))

    def text(self, node: ScalarNode) -> str:
        value = str(node.value)
        bad = sorted(set(FORBIDDEN.findall(value)))
        if bad:
            self.problem(node, "text holds " + ", ".join(describe(c) for c in bad)
                         + "; remove it")
            value = FORBIDDEN.sub("\ufffd", value)  # so later stages can still check the rest
        if node.style is None and value in NULLS:
            self.problem(node, f"'{value}' means \"no value\" in YAML but would be published "
                         f"as the text '{value}'; remove the key, or quote it to mean the text")
        return value

    def sequence(self, node: SequenceNode) -> Sequence:
        out = Sequence(self.construct_object(child, deep=True) for child in node.value)
        out.line = node.start_mark.line + 1
        out.item_lines = [child.start_mark.line + 1 for child in node.value]
        return out

    def mapping(self, node: MappingNode) -> Mapping:
        out = Mapping()
        out.line = node.start_mark.line + 1
        out.key_lines = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.problem(key_node, "a key must be plain text")
                continue
            key = self.text(key_node)
            line = key_node.start_mark.line + 1
            value = self.construct_object(value_node, deep=True)
            if key in out:
                self.problem(key_node, f"duplicate key '{key}' (first at line "
                             f"{out.key_lines[key]}); the first value is kept")
                continue
            out[key] = value
            out.key_lines[key] = line
        return out

    def any_tag(self, node: Node) -> Any:
        """An explicit tag such as `!!int` or `!python/object`: refused, read as untagged."""
        self.problem(node, f"YAML tags such as '{node.tag}' are not allowed; the ontology "
                     "gives each value its type")
        if isinstance(node, ScalarNode):
            return self.text(node)
        if isinstance(node, SequenceNode):
            return self.sequence(node)
        return self.mapping(node)  # type: ignore[arg-type]

    # Only these: no ints, floats, booleans, dates, sets or Python objects.
    yaml_constructors = {BaseResolver.DEFAULT_SCALAR_TAG: text,
                         BaseResolver.DEFAULT_SEQUENCE_TAG: sequence,
                         BaseResolver.DEFAULT_MAPPING_TAG: mapping, None: any_tag}



class _Loader(Reader, Scanner, Parser, _Composer, _Constructor, _StringResolver):
    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        _Composer.__init__(self)
        _Constructor.__init__(self)
        _StringResolver.__init__(self)


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = raw[: exc.start].count(b"\n") + 1
        raise StatementError(path, bad_line, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} "
                             f"at offset {exc.start}); save the file as UTF-8") from None


def _clean(path: Path, text: str, errors: list[StatementError]) -> str:
    """Report each raw forbidden character by line and blank it, so parsing can go on."""
    if not FORBIDDEN_RAW.search(text):
        return text
    for number, line in enumerate(text.split("\n"), start=1):
        bad = sorted(set(FORBIDDEN_RAW.findall(line)))
        if bad:
            errors.append(StatementError(path, number, "the file holds " + ", ".join(
                describe(c) for c in bad) + "; remove it"))
    return FORBIDDEN_RAW.sub("\ufffd", text)


def read(path: Path, errors: list[StatementError]) -> Any:
    """Parse one file strictly: append recoverable problems to `errors`, raise the others."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise StatementError(path, None, f"the file is {size:,} bytes, over the limit of "
                             f"{MAX_FILE_BYTES:,}; split it into several files")
    text = _clean(path, _decode(path, path.read_bytes()), errors)
    loader = _Loader(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "malformed YAML"
        raise StatementError(path, line, f"malformed YAML: {problem}") from None
    except yaml.YAMLError as exc:  # a ReaderError: a character YAML cannot hold
        position = getattr(exc, "position", 0)
        raise StatementError(path, text[:position].count("\n") + 1,
                             f"malformed YAML: {getattr(exc, 'reason', exc)}") from None
    finally:
        loader.dispose()
    errors += [StatementError(path, line, message) for line, message in loader.problems]
    return data
