"""The wheel carries the ontology, shapes, queries and templates, and its console script runs."""

from __future__ import annotations

import configparser
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from paths import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation uses this venv's setuptools: no download, same result as an isolated build.
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                    str(out), str(ROOT)], check=True, capture_output=True)
    (whl,) = out.glob("fentanyl_kg-*.whl")
    return whl


def test_wheel_contains_data_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in (ROOT / "ontology").glob("*.ttl"):
        assert f"fentanyl_kg/ontology/{f.name}" in names
    assert "fentanyl_kg/ontology/shapes.ttl" in names
    queries = list((ROOT / "queries").glob("*.rq"))
    for f in queries:
        assert f"fentanyl_kg/queries/{f.name}" in names
    templates = list((ROOT / "server/fentanyl_kg/web/templates").glob("*.html"))
    for f in templates:
        assert f"fentanyl_kg/web/templates/{f.name}" in names
    assert "fentanyl_kg/py.typed" in names


def test_console_script_runs_from_the_wheel(wheel: Path, tmp_path: Path) -> None:
    zipfile.ZipFile(wheel).extractall(tmp_path)
    (dist_info,) = tmp_path.glob("fentanyl_kg-*.dist-info")
    ep = configparser.ConfigParser()
    ep.read(dist_info / "entry_points.txt")
    assert ep["console_scripts"]["fentanyl-kg"] == "fentanyl_kg.cli:main"
    # Import from the unpacked wheel only (not the source tree) and read bundled files.
    code = ("import fentanyl_kg, sys; from fentanyl_kg import bundled; "
            "assert fentanyl_kg.__file__.startswith(sys.argv[1]), fentanyl_kg.__file__; "
            "print(len(bundled.ontology()) > 1000, len(bundled.shapes()) > 10, "
            "len(bundled.queries()))")
    res = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                         text=True, env={"PYTHONPATH": str(tmp_path)}, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("True True")
    cli = subprocess.run([sys.executable, "-c", "from fentanyl_kg.cli import main; main()",
                          "--help"], capture_output=True, text=True,
                         env={"PYTHONPATH": str(tmp_path)}, cwd=tmp_path)
    assert cli.returncode == 0 and "build" in cli.stdout and "cite" in cli.stdout
