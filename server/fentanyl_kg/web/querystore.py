"""The stores that /sparql's worker processes query: the release with the union of the claim
graphs and the inferred graph as default graph (see store.fill_default_graph). `FROM`,
`default-graph-uri` and `named-graph-uri` keep their standard meaning; the provenance and
ontology graphs are reached with GRAPH.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyoxigraph as ox

from fentanyl_kg.errors import KgError
from fentanyl_kg.store import fill_default_graph


def in_memory(nquads: Path | str) -> ox.Store:
    """A memory store holding the release and its union default graph."""
    store = ox.Store()
    store.bulk_load(path=str(nquads), format=ox.RdfFormat.N_QUADS)
    fill_default_graph(store)
    return store


def on_disk_path(store_path: Path) -> Path:
    """Where the query store lives beside the pages' store at `store_path`."""
    return store_path.with_name(store_path.name + "-sparql")


def prepare_on_disk(nquads: Path, version: str, store_path: Path) -> Path:
    """Write the query store for release `version` to disk, unless it is already there; the
    workers then open it read-only. Returns its folder."""
    path = on_disk_path(store_path)
    stamp = path.with_name(path.name + ".version")
    if stamp.is_file() and stamp.read_text("utf-8").strip() == version and path.is_dir():
        return path
    if path.exists():
        if not (stamp.is_file() or (path / "CURRENT").is_file()):
            raise KgError(f"{path} exists and is not a fentanyl-kg query store; remove it or "
                          "choose another store path")
        shutil.rmtree(path)
    stamp.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    store = ox.Store(str(path))
    store.bulk_load(path=str(nquads), format=ox.RdfFormat.N_QUADS)
    fill_default_graph(store)
    store.flush()
    del store  # releases the RocksDB lock before the workers open the folder
    stamp.write_text(version + "\n", "utf-8")
    return path


def open_read_only(path: Path | str) -> ox.Store:
    """A query store written by prepare_on_disk; several processes may open it at once."""
    return ox.Store.read_only(str(path))
