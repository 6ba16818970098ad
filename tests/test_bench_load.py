"""bench/load.py, briefly: 2 clients for 2 s against the web fixture app served on loopback;
the report has a row for every class and the idle/load ratio."""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from web_support import ROOT, close_app, make_app
from werkzeug.serving import make_server


def load_module() -> ModuleType:
    """bench/load.py, which is a script rather than part of the package."""
    if "bench_load" in sys.modules:
        return sys.modules["bench_load"]
    spec = importlib.util.spec_from_file_location("bench_load", ROOT / "bench" / "load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_load"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def server_url() -> Iterator[str]:
    app = make_app(QUERY_TIMEOUT=1)  # bounds the heavy query, which is small on this fixture
    # Werkzeug's threaded server rather than waitress: its shutdown() stops the loop cleanly,
    # where closing waitress from another thread can fail in its select loop.
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
        close_app(app)


def test_a_short_load_run_reports_every_class(server_url: str, tmp_path: Path) -> None:
    load = load_module()
    text = load.main(["--url", server_url, "--clients", "2", "--duration", "2",
                      "--idle-duration", "1", "--heavy-every", "5", "--results", str(tmp_path)])
    idle, _, under_load = text.partition("### Load")
    for kind in load.CHEAP:
        assert f"| {kind} |" in idle and f"| {kind} |" in under_load
    assert "| heavy |" in under_load and "| heavy |" not in idle
    assert "cheap p95 under load / idle:" in text and "load average" in text
    saved = list(tmp_path.glob("load-*.md"))
    assert len(saved) == 1 and saved[0].read_text("utf-8").strip() == text.strip()


def test_only_loopback_servers_are_loaded() -> None:
    with pytest.raises(SystemExit, match="loopback"):
        load_module().main(["--url", "http://example.org:80", "--duration", "1"])
