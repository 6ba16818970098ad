"""Settings of the web app, and the state it keeps in app.extensions["fentanyl_kg"].

Settings come from the defaults, then FENTANYL_KG_<NAME> environment variables, then the config
dict given to create_app. An unknown name or a value of the wrong type stops startup."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from fentanyl_kg.errors import KgError
from fentanyl_kg.namespaces import BASE
from fentanyl_kg.store import Pin, Release

if TYPE_CHECKING:
    from fentanyl_kg.web.executor import WorkerPool

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
    QUERY_TIMEOUT: float = 10.0  # seconds a /sparql query may run before it is stopped
    QUERY_WORKERS: int = 2  # worker processes that run /sparql queries
    MAX_ROWS: int = 10_000  # rows (SELECT) or triples (CONSTRUCT, DESCRIBE) per response
    MAX_REQUEST_BYTES: int = 1_000_000
    SERVICE_ALLOWLIST: tuple[str, ...] = ()  # SERVICE endpoints a query may call
    PAGE_SIZE: int = 50
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
    "SHUTDOWN_TIMEOUT": float,
}
_POSITIVE = {"QUERY_TIMEOUT", "QUERY_WORKERS", "MAX_ROWS", "MAX_REQUEST_BYTES", "PAGE_SIZE",
             "SHUTDOWN_TIMEOUT"}


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
    if name == "PUBLIC_BASE" and not str(converted).endswith("/"):
        raise StartupError(f"setting PUBLIC_BASE must end with '/': {value!r}")
    return converted


@dataclass
class KgState:
    """What the app holds, as app.extensions["fentanyl_kg"]."""

    store: ox.Store  # the release quads as built (default graph empty), for the pages
    release: Release
    settings: Settings
    executor: WorkerPool  # runs /sparql queries on its own copies of the store
    pin: Pin | None = None  # the lock that keeps the release folder from being pruned

    @property
    def version(self) -> str:
        """The release version, as in release.json."""
        return self.release.version
