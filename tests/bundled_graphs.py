"""The bundled ontology and shapes, parsed once per test session."""

from __future__ import annotations

from functools import cache

from rdflib import Graph

from fentanyl_kg import bundled


@cache
def ontology() -> Graph:
    return bundled.ontology()


@cache
def shapes() -> Graph:
    return bundled.shapes()
