"""Settings of the web app, and the state it keeps in app.extensions["fentanyl_kg"].

Settings come from the defaults, then FENTANYL_KG_<NAME> environment variables, then the config
dict given to create_app. An unknown name or a value of the wrong type stops startup."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fentanyl_kg.errors import KgError
from fentanyl_kg.namespaces import BASE
from fentanyl_kg.store import Pin, Release

if TYPE_CHECKING:
    from fentanyl_kg.query.executor import WorkerPool

ENV_PREFIX = "FENTANYL_KG_"


class StartupError(KgError):
    """The app cannot start: a bad setting or no release to serve."""


@dataclass(frozen=True)
class Settings:
    """Every setting, with its default. Documented in README.md (Settings)."""

    RELEASE_DIR: Path | None = None  # a release folder holding dataset.nq; None: OUT_DIR/release
    OUT_DIR: Path = Path("build")
    DATA_DIR: Path = Path("graph_data")
    STORE_PATH: Path | None = None  # None: the store is kept in memory
    PUBLIC_BASE: str = BASE
    QUERY_TIMEOUT: float = 10.0  # seconds a query or page lookup may take before it is stopped
    QUERY_WORKERS: int = 4  # worker processes that run queries and page lookups
    HEAVY_WORKERS: int = 2  # of those, how many may run a job past FAST_LANE_SECONDS at once
    FAST_LANE_SECONDS: float = 0.5  # a job still running after this long is heavy
    WORKER_MEMORY_MB: int = 2048  # resident memory a worker may reach while it runs a job
    QUEUE_TIMEOUT: float = 5.0  # seconds a request may wait for a free worker
    MAX_QUEUE: int = 64  # requests that may wait for a free worker at once
    MAX_ROWS: int = 10_000  # rows (SELECT) or triples (CONSTRUCT, DESCRIBE) per response
    MAX_REQUEST_BYTES: int = 1_000_000
    SERVICE_ALLOWLIST: tuple[str, ...] = ()  # SERVICE endpoints a query may call
    PAGE_SIZE: int = 50
    RATE_LIMIT: int = 600  # requests a client may make per RATE_WINDOW (token bucket); 0: off
    RATE_WINDOW: float = 60.0  # seconds over which RATE_LIMIT refills
    CLIENT_CONCURRENCY: int = 6  # requests a client may have in progress at once; 0: off
    TRUSTED_PROXIES: tuple[str, ...] = ()  # addresses whose X-Forwarded-For names the client
    SHUTDOWN_TIMEOUT: float = 30.0  # seconds `serve` lets in-flight requests finish on SIGTERM

    def get(self, name: str, default: Any = None) -> Any:
        """Mapping-style access, for code that treats the settings as a dict."""
        return getattr(self, name, default)

    def __getitem__(self, name: str) -> Any:
        if name not in NAMES:
            raise KeyError(name)
        return getattr(self, name)

    def as_dict(self) -> dict[str, Any]:
        """Every setting by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


NAMES = frozenset(f.name for f in fields(Settings))
_TYPES: dict[str, type] = {
    "RELEASE_DIR": Path, "OUT_DIR": Path, "DATA_DIR": Path, "STORE_PATH": Path,
    "PUBLIC_BASE": str, "QUERY_TIMEOUT": float, "QUERY_WORKERS": int, "MAX_ROWS": int,
    "MAX_REQUEST_BYTES": int, "SERVICE_ALLOWLIST": tuple, "PAGE_SIZE": int,
    "RATE_LIMIT": int, "RATE_WINDOW": float, "CLIENT_CONCURRENCY": int, "TRUSTED_PROXIES": tuple,
    "HEAVY_WORKERS": int, "FAST_LANE_SECONDS": float, "WORKER_MEMORY_MB": int,
    "QUEUE_TIMEOUT": float, "MAX_QUEUE": int, "SHUTDOWN_TIMEOUT": float,
}
_POSITIVE = {"QUERY_TIMEOUT", "QUERY_WORKERS", "MAX_ROWS", "MAX_REQUEST_BYTES", "PAGE_SIZE",
             "RATE_WINDOW", "HEAVY_WORKERS", "FAST_LANE_SECONDS", "WORKER_MEMORY_MB",
             "QUEUE_TIMEOUT", "MAX_QUEUE", "SHUTDOWN_TIMEOUT"}
_NOT_NEGATIVE = {"RATE_LIMIT", "CLIENT_CONCURRENCY"}  # 0 turns the limit off


def load(config: Mapping[str, Any] | None = None,
         environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the defaults, the environment and `config`, in that order."""
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    for key, value in env.items():
        if key.startswith(ENV_PREFIX):
            raw[_known(key[len(ENV_PREFIX):], f"environment variable {key}")] = value
    for key, value in (config or {}).items():
        raw[_known(key, "setting")] = value
    return Settings(**{k: _convert(k, v) for k, v in raw.items()})


def _known(name: str, what: str) -> str:
    if name not in NAMES:
        raise StartupError(f"unknown {what} {name!r}; the settings are: {', '.join(sorted(NAMES))}")
    return name


def _convert(name: str, value: Any) -> Any:
    kind = _TYPES[name]
    if value is None or value == "":
        if name in ("RELEASE_DIR", "STORE_PATH"):
            return None
        raise StartupError(f"setting {name} needs a value")
    try:
        if kind is tuple:
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(str(v).strip() for v in items if str(v).strip())
        if kind is Path:
            return Path(value)
        if kind is int and (isinstance(value, bool) or isinstance(value, float)):
            raise ValueError("not a whole number")
        converted = kind(value)
    except (TypeError, ValueError) as exc:
        raise StartupError(f"setting {name}={value!r} is not a valid {kind.__name__}: {exc}") \
            from None
    if name in _POSITIVE and converted <= 0:
        raise StartupError(f"setting {name} must be greater than 0, not {value!r}")
    if name in _NOT_NEGATIVE and converted < 0:
        raise StartupError(f"setting {name} must be 0 (off) or more, not {value!r}")
    if name == "PUBLIC_BASE" and not str(converted).endswith("/"):
        raise StartupError(f"setting PUBLIC_BASE must end with '/': {value!r}")
    return converted


@dataclass
class KgState:
    """What the app holds, as app.extensions["fentanyl_kg"]."""

    release: Release
    settings: Settings
    executor: WorkerPool  # runs queries and page lookups, each worker on its own store
    pin: Pin | None = None  # the lock that keeps the release folder from being pruned

    @property
    def version(self) -> str:
        """The release version, as in release.json."""
        return self.release.version
