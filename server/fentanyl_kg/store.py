"""Write a release atomically and deterministically, and read it back.

A release is a folder build/releases/<version>/ holding dataset.nq, dataset.trig,
void.ttl, validation.ttl and release.json. build/release is a symlink to the
current one; it is swapped with a single rename, so a reader sees either the
old release or the new one, never a half-written folder. release.json records the
sha256 and size of every other file, so a damaged release is found before it is
served (verify). A server holds a shared lock on the folder it serves (pin), and
pruning never removes a folder that is locked.
"""

from __future__ import annotations

import fcntl
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
KEEP = 3  # newest releases kept on disk (besides any a server has pinned)
CHUNK = 1 << 20
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
    listed = {name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
              for name, data in sorted(files.items())}
    meta = (json.dumps({"version": version, "counts": counts, "inputs": inputs,
                        "files": listed}, indent=2, sort_keys=True) + "\n").encode()
    target = releases / version
    if not target.is_dir():
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=releases))
        tmp.chmod(0o755)  # mkdtemp makes it private; a release is meant to be read
        for name, data in {**files, "release.json": meta}.items():
            _write(tmp / name, data)
        os.replace(tmp, target)
    else:
        # Same quads from other inputs (an edited comment, new warnings): every file that
        # differs is replaced, release.json last, so no file is left from the older build.
        for name, data in {**files, "release.json": meta}.items():
            if not _same(target / name, data):
                _write(target / f".{name}.tmp", data)
                os.replace(target / f".{name}.tmp", target / name)
    link = out_dir / f".{CURRENT}-{os.getpid()}"
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink(Path(RELEASES) / version, link)
    os.replace(link, out_dir / CURRENT)
    _prune(releases, keep={version})
    return Release(path=out_dir / CURRENT, version=version, counts=counts, inputs=inputs)


def _same(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except FileNotFoundError:
        return False


def _prune(releases: Path, keep: set[str]) -> None:
    """Remove all but the KEEP newest release folders, and never one a server has pinned."""
    folders = sorted((p for p in releases.iterdir() if p.is_dir()),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for p in folders:
        if p.name.startswith(".tmp-") or (p.name not in keep and len(keep) >= KEEP):
            _remove_unless_pinned(p)
        else:
            keep.add(p.name)


def _remove_unless_pinned(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return
    try:
        # A serving process holds LOCK_SH (pin). The kernel drops a lock when its holder
        # exits, so a crashed server pins nothing; no pid file can go stale.
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return
    try:
        shutil.rmtree(folder, ignore_errors=True)
    finally:
        os.close(fd)


class Pin:
    """A shared lock on a release folder, held while it is served, so pruning skips it."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._fd: int | None = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(self._fd, fcntl.LOCK_SH)  # waits while a pruner is removing it

    def release(self) -> None:
        """Unlock the folder; pruning may remove it from now on."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def pin(folder: Path) -> Pin:
    """Pin a release folder (a symlink is resolved) for as long as the Pin is held."""
    return Pin(Path(folder).resolve())


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


def verify(path: Path) -> str | None:
    """Why the release at `path` must not be served, or None if it is intact.

    A release lists the sha256 and size of every file in release.json. An older one without
    that list is checked by its quad count: dataset.nq must hold counts["quads"] lines and
    end with a newline (N-Quads is one quad per line)."""
    path = Path(path)
    try:
        data = json.loads((path / "release.json").read_text("utf-8"))
        listed: dict[str, dict[str, object]] = data.get("files") or {}
        if "version" not in data or not isinstance(data.get("counts"), dict):
            return "release.json has no version or counts"
        if not listed:
            return _verify_count(path / "dataset.nq", data["counts"].get("quads"))
        if "dataset.nq" not in listed:
            return "release.json lists no dataset.nq"
        for name, want in sorted(listed.items()):
            size = (path / name).stat().st_size
            if size != want.get("bytes"):
                return f"{name} has {size} bytes, release.json says {want.get('bytes')}"
            if _sha256(path / name) != want.get("sha256"):
                return f"{name} does not match its sha256 in release.json"
    except FileNotFoundError as exc:
        return f"{Path(exc.filename or '').name or 'a file'} is missing"
    except (OSError, ValueError, AttributeError) as exc:
        return f"release.json cannot be read: {exc}"
    return None


def _verify_count(nquads: Path, quads: object) -> str | None:
    lines, last = 0, b"\n"
    with open(nquads, "rb") as fh:
        while chunk := fh.read(CHUNK):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        return "dataset.nq ends in the middle of a line"
    if isinstance(quads, int) and lines != quads:
        return f"dataset.nq has {lines} quads, release.json says {quads}"
    return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def candidates(out_dir: Path) -> list[Path]:
    """The release folders under out_dir to try, best first: the current one, then the
    others from newest to oldest."""
    out_dir = Path(out_dir)
    current = (out_dir / CURRENT).resolve() if (out_dir / CURRENT).exists() else None
    try:
        others = sorted((p for p in (out_dir / RELEASES).iterdir()
                         if p.is_dir() and not p.name.startswith(".")),
                        key=lambda p: p.stat().st_mtime, reverse=True)
    except FileNotFoundError:
        others = []
    if current is None:
        return others
    older = [p for p in others if p.resolve() != current
             and p.stat().st_mtime <= current.stat().st_mtime]
    return [current, *older]


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
