"""The web-page test fixture: tests/data/pages_data built once through the real pipeline, and
the real app (create_app) serving it."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

from flask import Flask

from fentanyl_kg import build
from fentanyl_kg.store import Release
from fentanyl_kg.web import create_app

PAGES_DATA = Path(__file__).resolve().parent / "data" / "pages_data"
ID = "https://w3id.org/fentanyl-kg/id/"
FKG = "https://w3id.org/fentanyl-kg/ontology#"
SCRIPT = "<script>alert(1)</script>"


@functools.cache
def pages_release() -> Release:
    """Build the pages fixture once per test process."""
    return build.build(PAGES_DATA, Path(tempfile.mkdtemp(prefix="fkg-pages-")))


def make_app(release: Release, **settings: Any) -> Flask:
    """The real app over `release`. There is no stand-in: without create_app the page tests
    must fail at import, not pass against a copy of the app."""
    return create_app({"RELEASE_DIR": release.path, **settings})
