"""The web-page test fixture: tests/data/pages_data built once through the real pipeline, and
an app serving it (through create_app when the app factory exists)."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from flask import Flask, Response, jsonify, render_template, request

from fentanyl_kg import build
from fentanyl_kg.errors import QueryError
from fentanyl_kg.store import Release, load_store

PAGES_DATA = Path(__file__).resolve().parent / "data" / "pages_data"
ID = "https://w3id.org/fentanyl-kg/id/"
FKG = "https://w3id.org/fentanyl-kg/ontology#"
SCRIPT = "<script>alert(1)</script>"


@functools.cache
def pages_release() -> Release:
    """Build the pages fixture once per test process."""
    return build.build(PAGES_DATA, Path(tempfile.mkdtemp(prefix="fkg-pages-")))


def make_app(release: Release, **settings: Any) -> Flask:
    """The real app when web.create_app exists; until then a minimal stand-in."""
    try:
        from fentanyl_kg.web import create_app  # type: ignore[attr-defined]
    except ImportError:
        return _minimal_app(release, settings)
    return create_app({"RELEASE_DIR": release.path, **settings})  # type: ignore[no-any-return]


def _minimal_app(release: Release, settings: dict[str, Any]) -> Flask:
    from fentanyl_kg.web import pages

    app = Flask("pages_test_app", root_path=str(PAGES_DATA))
    app.extensions["fentanyl_kg"] = SimpleNamespace(
        store=load_store(release), release=release, version=release.version,
        settings={"PUBLIC_BASE": "https://w3id.org/fentanyl-kg/", "PAGE_SIZE": 50,
                  "MAX_ROWS": 10000, **settings})
    app.register_blueprint(pages.bp)

    @app.errorhandler(QueryError)
    def query_error(exc: QueryError) -> tuple[Response | str, int]:
        if request.accept_mimetypes.best == "text/html":
            return render_template("error.html", status=exc.status, error=exc.message), \
                exc.status
        return jsonify({"error": exc.message, "status": exc.status}), exc.status

    return app
