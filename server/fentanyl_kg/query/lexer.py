"""SPARQL at the level of tokens, for the guard: enough to find keywords outside comments,
strings and IRIs, never a parse. `tokens` accepts any text and never raises."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin

NAME = "name"  # keywords, prefixed names, numbers, blank node labels: the SPARQL words
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# One alternative per token kind, tried in this order at each position. An unterminated
# string is not a string: its quote is read as a character and the rest as code, so a text
# can only ever show the guard more keywords than the query parser sees, never fewer.
_TOKEN = re.compile(r"""
    (?P<skip>\s+|\#[^\n\r]*)
  | (?P<string>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*'''
              |"(?:[^"\\\n\r]|\\[^\n\r])*"|'(?:[^'\\\n\r]|\\[^\n\r])*')
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<var>[?$]\w*)
  | (?P<name>(?:[\w:\u00b7-\U0010ffff]|\\[_~.\-!$&'()*+,;=/?\#@%])
              (?:[\w:.\-%\u00b7-\U0010ffff]|\\[_~.\-!$&'()*+,;=/?\#@%])*)
  | (?P<open>[{(\[])
  | (?P<close>[})\]])
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)


@dataclass(frozen=True)
class Token:
    """One token: its kind (NAME, iri, var, string, open, close, other), text and place."""

    kind: str
    text: str
    start: int
    end: int


def tokens(text: str) -> Iterator[Token]:
    """The tokens of `text`, without whitespace and comments."""
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        if kind == "skip":
            continue
        value, start = match.group(), match.start()
        if kind == NAME and value.endswith("."):  # a name never ends with a dot: `ex:o .`
            stripped = value.rstrip(".")
            if stripped:
                yield Token(NAME, stripped, start, start + len(stripped))
            for k in range(start + len(stripped), match.end()):
                yield Token("other", ".", k, k + 1)
            continue
        yield Token(kind, value, start, match.end())


def expand_escapes(text: str) -> str:
    """The text with \\u and \\U escapes replaced by their characters, as SPARQL reads them
    before anything else."""
    def char(m: re.Match[str]) -> str:
        code = int(m.group(1) or m.group(2), 16)
        return chr(code) if code <= 0x10FFFF else m.group()
    return _ESCAPE.sub(char, text)


def resolve(iri: str, base: str | None) -> str | None:
    """An IRI as written, made absolute against `base`; None if it stays relative."""
    if _SCHEME.match(iri):
        return iri
    if not base:
        return None
    try:
        joined = urljoin(base, iri)
    except ValueError:  # a base with a malformed authority, say
        return None
    return joined if _SCHEME.match(joined) else None
