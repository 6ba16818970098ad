"""Write a release atomically and deterministically, and read it back.

A release is a folder build/releases/<version>/ holding dataset.nq, dataset.trig,
void.ttl, validation.ttl and release.json. build/release is a symlink to the
current one; it is swapped with a single rename, so a reader sees either the
old release or the new one, never a half-written folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from fentanyl_kg.namespaces import CLAIM, INFERRED_GRAPH, PREFIXES

CURRENT = "release"
RELEASES = "releases"
KEEP = 3  # releases kept on disk, so a reader of the previous one is not cut off
Quad = tuple[Node, Node, Node, Node]


@dataclass(frozen=True)
class Release:
    path: Path
    version: str
    counts: dict[str, int]
    inputs: str = ""  # digest of what it was built from (build.input_digest)

    @property
    def nquads(self) -> Path:
        return self.path / "dataset.nq"


def to_ox(term: Node) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """Convert an rdflib term to pyoxigraph."""
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype:
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    raise TypeError(f"cannot convert {term!r}")


def _ox_quads(quads: Iterable[Quad]) -> list[ox.Quad]:
    out = [ox.Quad(to_ox(s), to_ox(p), to_ox(o), to_ox(g))  # type: ignore[arg-type]
           for s, p, o, g in quads]
    out.sort(key=lambda q: (str(q.graph_name), str(q.subject), str(q.predicate), str(q.object)))
    return out


def nquads(quads: Iterable[Quad]) -> bytes:
    """Canonical N-Quads: one quad per line, lines sorted, so equal data gives equal bytes."""
    data = ox.serialize(_ox_quads(quads), format=ox.RdfFormat.N_QUADS) or b""
    lines = sorted(set(data.splitlines(keepends=True)))
    return b"".join(lines)


def trig(quads: Iterable[Quad]) -> bytes:
    """TriG with the project's prefixes; graphs and triples in sorted order."""
    return ox.serialize(_ox_quads(quads), format=ox.RdfFormat.TRIG, prefixes=PREFIXES) or b""


def turtle(g: Graph) -> bytes:
    """Turtle for small graphs (VoID, validation report) with sorted triples."""
    triples = sorted((ox.Triple(to_ox(s), to_ox(p), to_ox(o))  # type: ignore[arg-type]
                      for s, p, o in g), key=str)
    return ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes=PREFIXES) or b""


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write(out_dir: Path, files: dict[str, bytes], counts: dict[str, int],
          inputs: str = "") -> Release:
    """Write a release folder and make it current in one atomic rename."""
    out_dir = Path(out_dir)
    releases = out_dir / RELEASES
    releases.mkdir(parents=True, exist_ok=True)
    version = hashlib.sha1(files["dataset.nq"]).hexdigest()[:12]
    meta = json.dumps({"version": version, "counts": counts, "inputs": inputs}, indent=2,
                      sort_keys=True) + "\n"
    target = releases / version
    if not target.is_dir():
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=releases))
        tmp.chmod(0o755)  # mkdtemp makes it private; a release is meant to be read
        for name, data in {**files, "release.json": meta.encode()}.items():
            _write(tmp / name, data)
        os.replace(tmp, target)
    elif (target / "release.json").read_text("utf-8") != meta:
        # Same data from edited inputs (say, a comment): record the new inputs digest.
        _write(target / ".release.json.tmp", meta.encode())
        os.replace(target / ".release.json.tmp", target / "release.json")
    link = out_dir / f".{CURRENT}-{os.getpid()}"
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink(Path(RELEASES) / version, link)
    os.replace(link, out_dir / CURRENT)
    _prune(releases, keep={version})
    return Release(path=out_dir / CURRENT, version=version, counts=counts, inputs=inputs)


def _prune(releases: Path, keep: set[str]) -> None:
    folders = sorted((p for p in releases.iterdir() if p.is_dir()),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for p in folders:
        if p.name.startswith(".tmp-") or (p.name not in keep and len(keep) >= KEEP):
            shutil.rmtree(p, ignore_errors=True)
        else:
            keep.add(p.name)


def read_release(out_dir: Path) -> Release | None:
    """The current release under out_dir, or None if none was built."""
    return open_release(Path(out_dir) / CURRENT)


def open_release(path: Path) -> Release | None:
    """A release from its folder, or None if the folder holds no complete release."""
    meta = Path(path) / "release.json"
    if not meta.is_file() or not (Path(path) / "dataset.nq").is_file():
        return None
    data = json.loads(meta.read_text("utf-8"))
    return Release(path=Path(path), version=data["version"], counts=data["counts"],
                   inputs=data.get("inputs", ""))


# The release's default graph is empty; a query's default graph is the union of the claim
# graphs and the inferred graph. Naming a thousand claim graphs as `default_graph=[...]` makes
# pyoxigraph 0.5 scan each one (a point lookup went from 0.05 ms to 15-20 ms at 12,000 claims),
# so a loaded store holds that union in its default graph, written once at load time.
UNION_UPDATE = f"""INSERT {{ ?s ?p ?o }} WHERE {{
  GRAPH ?g {{ ?s ?p ?o }}
  FILTER(STRSTARTS(STR(?g), "{CLAIM}") || ?g = <{INFERRED_GRAPH}>)
}}"""


def fill_default_graph(store: ox.Store) -> None:
    """Copy every claim-graph and inferred triple into the store's default graph."""
    store.update(UNION_UPDATE)


def load_store(release: Release, store_path: Path | None = None,
               union_default: bool = True) -> ox.Store:
    """Load a release into a pyoxigraph store, in memory or on disk (reused if current).

    With `union_default` (the normal case) the default graph holds the union of the claim
    graphs and the inferred graph, as every query of the CLI and the endpoint expects.
    """
    if store_path is None:
        store = ox.Store()
        store.bulk_load(path=str(release.nquads), format=ox.RdfFormat.N_QUADS)
        if union_default:
            fill_default_graph(store)
        return store
    store_path = Path(store_path)
    stamp = store_path.with_name(store_path.name + ".version")  # beside, not inside, the store
    if stamp.is_file() and stamp.read_text().strip() == release.version:
        return ox.Store(str(store_path))
    if store_path.exists():
        shutil.rmtree(store_path)
    store_path.parent.mkdir(parents=True, exist_ok=True)
    store = ox.Store(str(store_path))
    store.bulk_load(path=str(release.nquads), format=ox.RdfFormat.N_QUADS)
    if union_default:
        fill_default_graph(store)
    store.flush()
    stamp.write_text(release.version + "\n")
    return store
