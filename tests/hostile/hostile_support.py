"""What every hostile test of the web app checks, and its hypothesis settings."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, settings
from werkzeug.test import TestResponse

# Bounded and reproducible: the same examples on every run, no example database on disk.
PROPERTY = settings(max_examples=80, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def check_answer(resp: TestResponse, method: str = "GET") -> None:
    """Never a 5xx but 503; every 4xx/5xx in JSON has exactly {"error": text, "status": n}."""
    status = resp.status_code
    assert status < 500 or status == 503, (status, resp.get_data()[:500])
    if status < 400 or method == "HEAD":
        return
    assert resp.mimetype in ("application/json", "text/html"), resp.mimetype
    body = resp.get_data()
    assert b"Traceback" not in body
    if resp.mimetype == "application/json":
        data = json.loads(body)
        assert set(data) == {"error", "status"}, data
        assert data["status"] == status and isinstance(data["error"], str) and data["error"]
