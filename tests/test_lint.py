"""The code stays typed and lint-clean: ruff (E, F, W, I, B, UP) and mypy run as tests."""

from __future__ import annotations

import subprocess
import sys

from paths import ROOT


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True)


def test_ruff() -> None:
    res = _run("ruff", "check", "server", "tests", "bench")
    assert res.returncode == 0, res.stdout + res.stderr


def test_mypy() -> None:
    res = _run("mypy", "server/fentanyl_kg")
    assert res.returncode == 0, res.stdout + res.stderr
