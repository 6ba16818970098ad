"""The README documents every setting and every named query."""

from __future__ import annotations

from dataclasses import fields

import pytest

from fentanyl_kg import bundled
from fentanyl_kg.web.config import Settings
from paths import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", [f.name for f in fields(Settings)])
def test_setting_is_documented(name: str) -> None:
    assert f"| `{name}` |" in README


@pytest.mark.parametrize("name", sorted(bundled.queries()))
def test_named_query_is_documented(name: str) -> None:
    query = bundled.queries()[name]
    assert query.title and query.description
    assert f"| `{name}` | {query.title} |" in README
