"""Shared fixtures: releases built once per session from the mini tree and the real data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from web_support import close_app, make_app

from fentanyl_kg import build
from fentanyl_kg.store import Release
from paths import MINI, REAL


@pytest.fixture(scope="session")
def mini_release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    """The tiny fixture tree, built once through the whole pipeline."""
    return build.build(MINI, tmp_path_factory.mktemp("mini-out"))


@pytest.fixture(scope="session")
def real_release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    """The real graph_data/, built once through the whole pipeline."""
    return build.build(REAL, tmp_path_factory.mktemp("real-out"))


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="module")
def app() -> Iterator[Flask]:
    """The web app over the small fixture release (tests/data/web_release)."""
    app = make_app()
    yield app
    close_app(app)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()
