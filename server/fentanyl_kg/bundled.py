"""Files shipped inside the package: ontology, shapes and named queries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from rdflib import Graph

SHAPES_FILE = "shapes.ttl"


def turtle_files() -> list[resources.abc.Traversable]:
    """Every bundled Turtle file (ontology, vocabularies, shapes), by name."""
    root = resources.files("fentanyl_kg.ontology")
    return sorted((p for p in root.iterdir() if p.name.endswith(".ttl")), key=lambda p: p.name)


def _ontology_files() -> list[resources.abc.Traversable]:
    return [p for p in turtle_files() if p.name != SHAPES_FILE]


def ontology() -> Graph:
    """The ontology and its controlled vocabularies, as one graph."""
    g = Graph()
    for f in _ontology_files():
        g.parse(data=f.read_text(encoding="utf-8"), format="turtle")
    return g


def shapes() -> Graph:
    """The SHACL shapes graph."""
    g = Graph()
    text = resources.files("fentanyl_kg.ontology").joinpath(SHAPES_FILE).read_text("utf-8")
    g.parse(data=text, format="turtle")
    return g


_PARAM = re.compile(r"^#\s*param:\s*\??([A-Za-z_]\w*)\s*(?:\(([^)]*)\))?\s*(?:[—–:-]+\s*)?(.*)$")


@dataclass(frozen=True)
class Param:
    """A `# param: name (kind) — meaning` header line; kind is iri, literal or a datatype."""

    name: str
    kind: str
    meaning: str


@dataclass(frozen=True)
class NamedQuery:
    name: str
    title: str
    description: str
    text: str
    params: tuple[Param, ...] = ()


def _header(text: str) -> tuple[dict[str, str], tuple[Param, ...]]:
    """The title/description and the parameters from a query's leading comment lines."""
    meta: dict[str, str] = {}
    params: list[Param] = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        m = _PARAM.match(line)
        if m:
            params.append(Param(m.group(1), (m.group(2) or "iri").strip(), m.group(3).strip()))
            continue
        key, _, value = line.lstrip("# ").partition(":")
        if key.strip() in ("title", "description") and value:
            meta[key.strip()] = value.strip()
    return meta, tuple(params)


def queries() -> dict[str, NamedQuery]:
    """Named SPARQL queries by file stem, with the title, description and parameters."""
    out: dict[str, NamedQuery] = {}
    root = resources.files("fentanyl_kg.queries")
    for f in sorted(root.iterdir(), key=lambda p: p.name):
        if not f.name.endswith(".rq"):
            continue
        text = f.read_text(encoding="utf-8")
        meta, params = _header(text)
        name = f.name[: -len(".rq")]
        out[name] = NamedQuery(name, meta.get("title", ""), meta.get("description", ""), text,
                               params)
    return out
