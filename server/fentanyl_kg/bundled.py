"""Files shipped inside the package: ontology, shapes and named queries."""

from __future__ import annotations

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


@dataclass(frozen=True)
class NamedQuery:
    name: str
    title: str
    description: str
    text: str


def queries() -> dict[str, NamedQuery]:
    """Named SPARQL queries by file stem, with the title and description from their header."""
    out: dict[str, NamedQuery] = {}
    root = resources.files("fentanyl_kg.queries")
    for f in sorted(root.iterdir(), key=lambda p: p.name):
        if not f.name.endswith(".rq"):
            continue
        text = f.read_text(encoding="utf-8")
        meta: dict[str, str] = {}
        for line in text.splitlines():
            if not line.startswith("#"):
                break
            key, _, value = line.lstrip("# ").partition(":")
            if key.strip() in ("title", "description") and value:
                meta[key.strip()] = value.strip()
        name = f.name[: -len(".rq")]
        out[name] = NamedQuery(name, meta.get("title", ""), meta.get("description", ""), text)
    return out
