"""A `fentanyl-kg serve` subprocess that a test signals and waits for itself."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT / "tests" / "data" / "mini"


@dataclass
class Served:
    proc: subprocess.Popen[str]
    url: str
    log: list[str]  # everything it printed so far

    def signal(self, signum: int) -> None:
        os.kill(self.proc.pid, signum)

    def stop(self, timeout: float = 120) -> int:
        """SIGTERM, then its exit code."""
        self.signal(signal.SIGTERM)
        return self.proc.wait(timeout)


@contextmanager
def serving(args: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT,
            timeout: float = 300, program: list[str] | None = None) -> Iterator[Served]:
    """`PROGRAM serve --port 0 ARGS` (PROGRAM: `python -m fentanyl_kg` unless given) until the
    block ends (killed if need be)."""
    program = program or [sys.executable, "-m", "fentanyl_kg"]
    proc = subprocess.Popen([*program, "serve", "--port", "0", *args],
                            cwd=cwd, env={**os.environ, **(env or {})}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    lines: list[str] = []
    reader: threading.Thread | None = None
    try:
        deadline, url = time.monotonic() + timeout, None
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(r"serving .* on (http://\S+)", line)
            url = found.group(1).rstrip("/") if found else None
        if url is None:
            raise RuntimeError("fentanyl-kg serve did not start:\n" + "".join(lines))
        # Keep reading, so that the access log never fills the pipe and blocks the server.
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout),  # type: ignore
                                  daemon=True)
        reader.start()
        yield Served(proc, url, lines)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if reader is not None:
            reader.join(10)
        proc.stdout.close()


def edited(data: Path, label: str) -> Path:
    """Change Sinaloa's label in a copy of the mini tree, so the next build is a new release."""
    places = data / "entities" / "places.yaml"
    if not data.exists():
        shutil.copytree(MINI, data)
    text = places.read_text("utf-8")
    start = text.index("label: {en: Sinaloa")
    end = text.index("}", start)
    places.write_text(text[:start] + f"label: {{en: {label}" + text[end:], "utf-8")
    return data
