"""Typing the text written in a statement file: a literal by the datatype its property
declares, an IRI by the schemes its property allows.

The strict reader (strict_yaml.py) hands every value over as the string written, so this is
the one place where "2024-10-01" becomes an xsd:date or "83.5" an xsd:decimal, and the one
place that refuses what does not fit.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from rdflib import RDFS, XSD, Literal, URIRef
from rdflib.term import _is_valid_uri

from fentanyl_kg.namespaces import FKG, PREFIXES
from fentanyl_kg.statements import Location

# Schemes an <IRI> value may use unless its property's fkg:iriScheme allows more:
# `javascript:`, `file:` and `data:` links must never reach a page or a client.
DEFAULT_SCHEMES = frozenset({"http", "https", "urn"})
IRI = re.compile(r"^([a-z][a-z0-9+.-]*):\S+$", re.I)

DECIMAL = re.compile(r"^([+-]?)(\d+)(?:\.(\d*))?$|^([+-]?)\.(\d+)$")
# Oxigraph keeps decimals exactly up to these digits; past them it would store the text as is.
DECIMAL_DIGITS = (20, 18)
# Datatypes checked by pattern alone, with what to tell a curator they take.
LEXICAL = {
    XSD.gYear: (re.compile(r"^-?\d{4}$"), "a year written YYYY"),
    XSD.gYearMonth: (re.compile(r"^-?\d{4}-(0[1-9]|1[0-2])$"), "a month written YYYY-MM"),
    XSD.integer: (re.compile(r"^[+-]?\d+$"), "a whole number"),
    XSD.nonNegativeInteger: (re.compile(r"^\+?\d+$"), "a whole number, 0 or more"),
}
STRINGS = (None, RDFS.Literal, XSD.string)


def _decimal(text: str) -> str | None:
    """The canonical form of an xsd:decimal, as Oxigraph serves it (`1.10` -> `1.1`,
    `007` -> `7`), computed from the digits written, never through a float."""
    m = DECIMAL.match(text)
    if not m:
        return None
    sign, whole, frac = (m.group(1), m.group(2), m.group(3) or "") if m.group(2) is not None \
        else (m.group(4), "0", m.group(5))
    whole, frac = whole.lstrip("0") or "0", frac.rstrip("0")
    if len(whole) > DECIMAL_DIGITS[0] or len(frac) > DECIMAL_DIGITS[1]:
        return None
    if whole == "0" and not frac:
        sign = ""
    return ("-" if sign == "-" else "") + whole + (f".{frac}" if frac else "")


def is_date(text: str) -> bool:
    """Whether text is YYYY-MM-DD naming a day that exists (2024-02-29 does, 2025-02-30 not)."""
    if not re.match(r"^\d{4}-\d{2}-\d{2}$", text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def literal(text: str, datatype: URIRef | None, what: str, at: Location) -> Literal:
    """The literal `text` means under `datatype`, or a StatementError saying why it is refused."""
    if text == "":
        raise at.error(f"'{what}' has an empty value; give one or remove the key")
    if datatype in STRINGS:
        return Literal(text)
    lexical: str | None = text
    if datatype == XSD.decimal:
        lexical = _decimal(text)
        hint = "a number such as 83.5 (no thousands separators or exponents)"
    elif datatype == XSD.boolean:
        lexical = text if text in ("true", "false") else None
        hint = "true or false"
    elif datatype == XSD.date:
        lexical = text if is_date(text) else None
        hint = "a date that exists, written YYYY-MM-DD"
    elif datatype in LEXICAL:
        pattern, hint = LEXICAL[datatype]
        lexical = text if pattern.match(text) else None
    else:
        raise at.error(f"'{what}' has the datatype {datatype.n3()}, which the loader cannot "
                       "check; the ontology must use another")
    if lexical is None or Literal(lexical, datatype=datatype).ill_typed:
        raise at.error(f"wrong datatype: '{what}' takes {hint}, got {text!r}")
    if datatype in (XSD.integer, XSD.nonNegativeInteger):
        lexical = str(int(lexical))  # the canonical form, as the store serves it
    return Literal(lexical, datatype=datatype)


def iri(text: str, schemes: frozenset[str], at: Location) -> URIRef:
    """The IRI written as `<text>`, if it is well formed and uses an allowed scheme."""
    m = IRI.match(text)
    if not m or not _is_valid_uri(text):
        raise at.error(f"malformed IRI <{text}>")
    if m.group(1).lower() not in schemes:
        raise at.error(f"IRI <{text}> uses the scheme '{m.group(1)}:'; only "
                       f"{', '.join(sorted(schemes))} are allowed here")
    return URIRef(text)


def yaml11_form(ranges: dict[URIRef, URIRef], value: Any) -> Any:
    """A nested node's content as the former YAML 1.1 reader gave it (83.5 a float, `false` a
    boolean). Node IRIs hash it, so the IRIs minted before the strict reader stay the same."""
    if isinstance(value, list):
        return [yaml11_form(ranges, v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, v in value.items():
        prefix, _, local = key.rpartition(":")
        prop = URIRef(PREFIXES.get(prefix, "") + local) if prefix else FKG[key]
        items = [_yaml11(ranges.get(prop), x) if isinstance(x, str) else yaml11_form(ranges, x)
                 for x in (v if isinstance(v, list) else [v])]
        out[key] = items if isinstance(v, list) else items[0]
    return out


def _yaml11(datatype: URIRef | None, text: str) -> Any:
    if datatype == XSD.decimal and re.match(r"^[+-]?\d+$", text):
        return int(text)
    if datatype == XSD.decimal and re.match(r"^[+-]?(\d+\.\d*|\.\d+)$", text):
        return float(text)
    if datatype == XSD.gYear and re.match(r"^\d{4}$", text):
        return int(text)
    if datatype == XSD.boolean and text in ("true", "false"):
        return text == "true"
    return text
