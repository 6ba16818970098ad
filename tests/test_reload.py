"""reload.swap in process: a rebuilt release is swapped in and the old one retired; a damaged
one, or a reload with STORE_PATH, leaves the served release as it was."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from serving import edited

from fentanyl_kg import build, store
from fentanyl_kg.store import Release
from fentanyl_kg.web import create_app
from fentanyl_kg.web.config import StartupError
from fentanyl_kg.web.reload import Requests, swap


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[Flask, Path, Release]]:
    data, out = tmp_path / "data", tmp_path / "out"
    first = build.build(edited(data, "Sinaloa 0"), out)
    app = create_app({"OUT_DIR": out, "QUERY_WORKERS": 1})
    yield app, data, first
    state = app.extensions["fentanyl_kg"]
    state.executor.close()
    state.pin.release()


def health(app: Flask) -> dict[str, object]:
    return app.test_client().get("/healthz").get_json()  # type: ignore[no-any-return]


def test_swap_serves_the_new_release_and_retires_the_old(
        served: tuple[Flask, Path, Release]) -> None:
    app, data, first = served
    old = app.extensions["fentanyl_kg"]
    assert health(app)["version"] == first.version
    second = build.build(edited(data, "Sinaloa 1"), data.parent / "out")
    state = swap(app, Requests(app.wsgi_app), drain=5)
    assert state is app.extensions["fentanyl_kg"] and state.version == second.version
    assert health(app)["version"] == second.version
    assert old.executor.status()["alive"] == 0  # the old workers are stopped
    for n in range(2, store.KEEP + 2):  # and its folder is no longer pinned
        build.build(edited(data, f"Sinaloa {n}"), data.parent / "out")
    assert not old.release.path.exists() and state.release.path.exists()


def test_a_damaged_new_release_leaves_the_served_one(
        served: tuple[Flask, Path, Release], caplog: pytest.LogCaptureFixture) -> None:
    app, data, first = served
    second = build.build(edited(data, "Sinaloa 1"), data.parent / "out")
    nq = data.parent / "out" / "release" / "dataset.nq"
    nq.write_bytes(nq.read_bytes()[:1000])
    caplog.set_level(logging.ERROR, "fentanyl_kg.web")
    state = swap(app, None, drain=5)
    assert state.version == first.version == health(app)["version"]
    assert any(second.version in r.getMessage() and "damaged" in r.getMessage()
               for r in caplog.records)


def test_reload_with_a_store_path_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    build.build(edited(tmp_path / "data", "Sinaloa 0"), out)
    app = create_app({"OUT_DIR": out, "QUERY_WORKERS": 1, "STORE_PATH": tmp_path / "store"})
    try:
        with pytest.raises(StartupError, match="STORE_PATH"):
            swap(app, None, drain=5)
        assert health(app)["status"] == "ok"
    finally:
        app.extensions["fentanyl_kg"].executor.close()
