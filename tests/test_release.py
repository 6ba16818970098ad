"""Releases on disk: checksums in release.json, verification before serving with a fallback to
the previous good release, every file of a rebuilt release consistent, and no pruning of the
release a server is serving (even after rebuilds while it runs)."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from serving import edited
from web_support import WEB_RELEASE

from fentanyl_kg import build, store
from fentanyl_kg.query.executor import Job, WorkerPool
from fentanyl_kg.store import Release
from fentanyl_kg.web import create_app
from fentanyl_kg.web.config import StartupError
from paths import MINI

SINALOA = "SELECT ?l { <https://w3id.org/fentanyl-kg/id/sinaloa> rdfs:label ?l }"


@pytest.fixture()
def two_releases(tmp_path: Path) -> tuple[Path, Release, Release]:
    """OUT_DIR with an older and a newer (current) release built from different data."""
    out = tmp_path / "out"
    older = build.build(edited(tmp_path / "data", "Sinaloa old"), out)
    newer = build.build(edited(tmp_path / "data", "Sinaloa new"), out)
    assert older.version != newer.version
    return out, older, newer


def served(app: Flask) -> str:
    return app.extensions["fentanyl_kg"].version  # type: ignore[no-any-return]


def close(app: Flask) -> None:
    state = app.extensions["fentanyl_kg"]
    state.executor.close()
    state.pin.release()


def label(pool: WorkerPool) -> bytes:
    job = Job(query=SINALOA, default_graphs=None, named_graphs=None, results_format="json",
              graph_format=None, max_rows=10, base_iri=None)
    reply = pool.run(job, 60)
    assert hasattr(reply, "body"), reply
    return reply.body  # type: ignore[union-attr,no-any-return]


# -- checksums and verification --------------------------------------------------------------
def test_release_json_lists_size_and_sha256_of_every_file(mini_release: Release) -> None:
    meta = json.loads((mini_release.path / "release.json").read_text("utf-8"))
    on_disk = {p.name for p in mini_release.path.iterdir()} - {"release.json"}
    assert set(meta["files"]) == on_disk == {"dataset.nq", "dataset.trig", "void.ttl",
                                             "validation.ttl"}
    nq = (mini_release.path / "dataset.nq").read_bytes()
    assert meta["files"]["dataset.nq"]["bytes"] == len(nq)
    assert len(meta["files"]["dataset.nq"]["sha256"]) == 64
    assert meta["counts"]["quads"] == nq.count(b"\n")
    assert store.verify(mini_release.path) is None


@pytest.mark.parametrize("cut", ["at a line", "mid-line"])
def test_a_truncated_release_is_refused_and_the_previous_one_served(
        two_releases: tuple[Path, Release, Release], cut: str,
        caplog: pytest.LogCaptureFixture) -> None:
    out, older, newer = two_releases
    nq = out / "release" / "dataset.nq"
    data = nq.read_bytes()
    keep = data.index(b"\n", len(data) // 3) + 1 if cut == "at a line" else len(data) // 3 + 7
    nq.write_bytes(data[:keep])
    caplog.set_level(logging.ERROR, "fentanyl_kg.web")
    app = create_app({"OUT_DIR": out, "QUERY_WORKERS": 1})
    try:
        assert served(app) == older.version
        client = app.test_client()
        health = client.get("/healthz").get_json()
        assert health["version"] == older.version and health["triples"] == \
            older.counts["quads"]
        lines = [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()]
        assert len(lines) == 1 and "\n" not in lines[0]
        assert newer.version in lines[0] and "dataset.nq" in lines[0]
    finally:
        close(app)


@pytest.mark.slow
def test_serve_exits_2_when_no_release_verifies(
        two_releases: tuple[Path, Release, Release]) -> None:
    out, _, _ = two_releases
    for folder in (out / "releases").iterdir():
        with open(folder / "dataset.nq", "ab") as fh:  # still N-Quads, but not what was built
            fh.write(b"<x:s> <x:p> <x:o> .\n")
    result = subprocess.run(
        [sys.executable, "-m", "fentanyl_kg", "serve", "--out", str(out), "--data",
         str(out / "none"), "--port", "0"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no release under" in result.stderr and "intact" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("refusing damaged release") == 2


def test_a_release_without_checksums_is_checked_by_its_quad_count(tmp_path: Path) -> None:
    """Releases written before checksums (like tests/data/web_release) record only counts."""
    assert "files" not in json.loads((WEB_RELEASE / "release.json").read_text("utf-8"))
    assert store.verify(WEB_RELEASE) is None
    cut = shutil.copytree(WEB_RELEASE, tmp_path / "cut")
    lines = (cut / "dataset.nq").read_bytes().splitlines(keepends=True)
    (cut / "dataset.nq").write_bytes(b"".join(lines[:100]))
    assert store.verify(cut) == "dataset.nq has 100 quads, release.json says 295"
    (cut / "dataset.nq").write_bytes(b"".join(lines)[:-5])
    assert store.verify(cut) == "dataset.nq ends in the middle of a line"
    with pytest.raises(StartupError, match="intact"):
        create_app({"RELEASE_DIR": cut})


def test_a_rebuild_with_the_same_quads_rewrites_every_file(tmp_path: Path) -> None:
    """validation.ttl (and void.ttl) follow release.json when only the report changed."""
    first = build.build(MINI, tmp_path / "out")
    folder = (tmp_path / "out" / "release").resolve()
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "release.json"}
    report = files["validation.ttl"] + b"# another report\n"
    again = store.write(tmp_path / "out", {**files, "validation.ttl": report},
                        first.counts, "other-inputs")
    assert again.version == first.version
    assert (folder / "validation.ttl").read_bytes() == report
    assert store.verify(folder) is None


# -- the served release is never pruned -----------------------------------------------------
def test_rebuilds_under_a_running_app_keep_the_served_release(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    first = build.build(edited(data, "Sinaloa 0"), out)
    app = create_app({"OUT_DIR": out, "QUERY_WORKERS": 1})
    try:
        state = app.extensions["fentanyl_kg"]
        state.executor.start()
        folder = state.release.path
        for n in range(1, store.KEEP + 3):
            build.build(edited(data, f"Sinaloa {n}"), out)
        assert folder.is_dir() and store.verify(folder) is None
        assert len(list((out / "releases").iterdir())) == store.KEEP + 1  # newest 3 + served
        # A worker started now (as a respawn is) still loads the served release.
        respawn = WorkerPool(state.executor.spec, 1)
        try:
            assert b"Sinaloa 0" in label(respawn)
        finally:
            respawn.close()
        assert app.test_client().get("/healthz").get_json()["version"] == first.version
    finally:
        close(app)
    build.build(edited(data, "Sinaloa last"), out)  # unpinned now: pruned like any other
    assert not folder.exists()


def test_a_crashed_server_pins_nothing(tmp_path: Path) -> None:
    """The pin is a lock the kernel drops when its process dies: nothing stale is left."""
    data, out = tmp_path / "data", tmp_path / "out"
    build.build(edited(data, "Sinaloa 0"), out)
    folder = (out / "release").resolve()
    proc = subprocess.Popen([sys.executable, "-c", "import sys, time\n"
                             "from fentanyl_kg import store\n"
                             "p = store.pin(sys.argv[1]); print('pinned', flush=True)\n"
                             "time.sleep(600)", str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "pinned\n"
        for n in range(1, store.KEEP + 1):
            build.build(edited(data, f"Sinaloa {n}"), out)
        assert folder.is_dir()
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
    build.build(edited(data, "Sinaloa after the crash"), out)
    assert not folder.exists()
