"""Settings flow one way for `serve`: defaults, then FENTANYL_KG_* variables, then the flags
given. And a PUBLIC_BASE other than the default still serves every /id/ page."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest
from serving import MINI, serving
from web_support import WEB_RELEASE, close_app, make_app, release_files, write_release

OTHER = "https://kg.example.org/"
W3ID = "https://w3id.org/fentanyl-kg/"


@pytest.mark.slow
def test_serve_reads_path_settings_from_the_environment_and_flags_win(tmp_path: Path) -> None:
    """No flag given: DATA_DIR and OUT_DIR come from the environment (cwd has neither
    graph_data/ nor build/). A flag given overrides its variable."""
    env = {"FENTANYL_KG_DATA_DIR": str(shutil.copytree(MINI, tmp_path / "data")),
           "FENTANYL_KG_OUT_DIR": str(tmp_path / "env-out")}
    with serving([], env, cwd=tmp_path) as srv:
        assert srv.stop() == 0
    assert (tmp_path / "env-out" / "release" / "dataset.nq").is_file()
    assert any(f"building from {tmp_path / 'data'}" in line for line in srv.log)
    with serving(["--out", str(tmp_path / "flag-out")], env, cwd=tmp_path) as srv:
        assert srv.stop() == 0
    assert (tmp_path / "flag-out" / "release" / "dataset.nq").is_file()
    assert not (tmp_path / "build").exists()


def test_pages_are_served_under_another_public_base() -> None:
    """The data's IRIs are under the project's base (namespaces.BASE) whatever PUBLIC_BASE is."""
    app = make_app(PUBLIC_BASE=OTHER, QUERY_WORKERS=1)
    try:
        resp = app.test_client().get("/id/sonora.json")
        assert resp.status_code == 200, resp.data
        assert '"href":"/id/claim/' in resp.get_data(as_text=True)  # links stay local
    finally:
        close_app(app)


def test_a_release_under_public_base_is_served_at_local_paths(tmp_path: Path) -> None:
    """A release whose IRIs are under PUBLIC_BASE (built by other tools) serves its pages."""
    text = (WEB_RELEASE / "dataset.nq").read_text("utf-8").replace(W3ID + "id/", OTHER + "id/")
    quads = ox.parse(text.encode(), format=ox.RdfFormat.N_QUADS)
    folder = write_release(tmp_path / "other", release_files(quads))
    app = make_app(folder, PUBLIC_BASE=OTHER, QUERY_WORKERS=1)
    try:
        resp = app.test_client().get("/id/sonora.json")
        assert resp.status_code == 200, resp.data
        assert '"href":"/id/claim/' in resp.get_data(as_text=True)
        assert app.test_client().get("/id/no-such-thing").status_code == 404
    finally:
        close_app(app)
