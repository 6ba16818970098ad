"""Helpers for the /sparql tests: the hand-written release fixture, and a real server."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from flask import Flask
from serving import serving

from fentanyl_kg.namespaces import CLAIM, INFERRED_GRAPH, ONTOLOGY_GRAPH, PROVENANCE_GRAPH

DATA = Path(__file__).resolve().parent / "data"
FIXTURE_TRIG = DATA / "web_fixture.trig"
WEB_RELEASE = DATA / "web_release"
ROOT = Path(__file__).resolve().parents[1]
SCRIPT = "<script>alert(1)</script>"
ID = "https://w3id.org/fentanyl-kg/id/"
FKG = "https://w3id.org/fentanyl-kg/ontology#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
BIBLIOGRAPHIC = "http://purl.org/dc/terms/BibliographicResource"


def release_files(quads: Iterable[ox.Quad]) -> dict[str, bytes]:
    """dataset.nq (sorted lines), release.json and void.ttl, as the pipeline writes them."""
    quads = list(quads)
    nq = b"".join(sorted(set((ox.serialize(quads, format=ox.RdfFormat.N_QUADS) or b"")
                             .splitlines(keepends=True))))
    kinds = {str(INFERRED_GRAPH): "inferred_triples", str(PROVENANCE_GRAPH): "provenance_triples",
             str(ONTOLOGY_GRAPH): "ontology_triples"}
    counts = {"asserted_triples": 0, "inferred_triples": 0, "provenance_triples": 0,
              "ontology_triples": 0, "other_triples": 0}
    claims: set[str] = set()
    entities: set[str] = set()
    sources: set[str] = set()
    for q in quads:
        g = q.graph_name.value if isinstance(q.graph_name, ox.NamedNode) else ""
        typed = q.predicate.value == RDF_TYPE and isinstance(q.subject, ox.NamedNode)
        if g.startswith(str(CLAIM)):
            counts["asserted_triples"] += 1
            claims.add(g)
            if typed and not q.subject.value.startswith(ID + "node/"):
                entities.add(q.subject.value)
        else:
            counts[kinds.get(g, "other_triples")] += 1
            if typed and q.object == ox.NamedNode(BIBLIOGRAPHIC):
                sources.add(q.subject.value)
    if not counts["other_triples"]:
        del counts["other_triples"]
    counts.update(claims=len(claims), entities=len(entities), sources=len(sources),
                  quads=len(quads))
    version = hashlib.sha1(nq).hexdigest()[:12]
    meta = json.dumps({"version": version, "counts": counts}, indent=2, sort_keys=True) + "\n"
    void = (f"<https://w3id.org/fentanyl-kg/dataset> a <http://rdfs.org/ns/void#Dataset> ;\n"
            f"    <http://rdfs.org/ns/void#triples> {len(quads)} .\n")
    return {"dataset.nq": nq, "release.json": meta.encode(), "void.ttl": void.encode()}


def fixture_files() -> dict[str, bytes]:
    return release_files(ox.parse(path=str(FIXTURE_TRIG), format=ox.RdfFormat.TRIG))


def write_release(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def make_app(release_dir: Path = WEB_RELEASE, **settings: Any) -> Flask:
    """The app over `release_dir`. Every test client is one address, 127.0.0.1, so the
    per-client limits are off unless a test sets them (tests/test_web_protocol.py does)."""
    from fentanyl_kg.web import create_app

    return create_app({"RELEASE_DIR": release_dir, "RATE_LIMIT": 0, "CLIENT_CONCURRENCY": 0,
                       **settings})


def close_app(app: Flask) -> None:
    app.extensions["fentanyl_kg"].executor.close()


@dataclass
class Server:
    url: str
    log: list[str]  # what the server printed so far (startup, access log)


@contextmanager
def live_server(out_dir: Path, data_dir: Path | None = None,
                env: dict[str, str] | None = None, timeout: float = 300) -> Iterator[Server]:
    """`fentanyl-kg serve` on a free port in a subprocess, until the block ends."""
    exe = Path(sys.executable).with_name("fentanyl-kg")  # the console script, as users run it
    args = ["--threads", "4", "--out", str(out_dir)]
    if data_dir is not None:
        args += ["--data", str(data_dir)]
    with serving(args, env, timeout=timeout,
                 program=[str(exe)] if exe.exists() else None) as srv:
        try:
            yield Server(srv.url, srv.log)
        finally:
            srv.signal(signal.SIGTERM)  # a clean stop; `serving` kills it if this hangs
            try:
                srv.proc.wait(20)
            except subprocess.TimeoutExpired:
                pass
