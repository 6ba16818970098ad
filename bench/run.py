"""Benchmark the build stages and named-query latency (pyoxigraph against rdflib), in one run.

Usage: python bench/run.py [--data graph_data] [--runs 3] [--repeat 20]
Prints medians, and ratios taken within this run only.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import tempfile
import time
from pathlib import Path

from rdflib import Dataset

from fentanyl_kg import build, bundled, store


def _median_ms(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _in_child(fn, repeat: int, limit: float) -> float | str:  # type: ignore[no-untyped-def]
    """Median ms of fn in a forked child; a message if it failed or ran past `limit` seconds
    (rdflib cannot cancel a query, so the child is killed)."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()

    def work() -> None:
        try:
            child.send(_median_ms(fn, repeat))
        except Exception as exc:  # rdflib cannot run every query; report it
            child.send(f"rdflib: {exc}")

    proc = ctx.Process(target=work)
    proc.start()
    proc.join(limit)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return f"rdflib: over {limit:.0f} s, stopped"
    return parent.recv() if parent.poll() else "rdflib: no answer"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("graph_data"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--limit", type=float, default=60.0,
                    help="seconds the rdflib side of one query may take")
    args = ap.parse_args()

    stages: dict[str, list[float]] = {}
    release = None
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as out:
            def progress(msg: str) -> None:
                if msg.endswith(" s") and ": done in " in msg:
                    label = msg.split("] ", 1)[1].split(":")[0]
                    stages.setdefault(label, []).append(float(msg.rsplit(" ", 2)[1]))

            release = build.build(args.data, Path(out), progress)
            data = release.nquads.read_bytes()
            ox_store = store.load_store(release)
    assert release is not None
    print(f"build of {args.data} ({release.counts['quads']} quads), median of {args.runs} runs:")
    for label, values in stages.items():
        print(f"  {label:24s} {statistics.median(values):6.1f} s")

    rd_store = Dataset(default_union=True)
    rd_store.parse(data=data.decode(), format="nquads")
    print(f"\nnamed queries, median of {args.repeat} runs (ms); rdflib over the union of graphs:")
    print(f"  {'query':36s} {'pyoxigraph':>10s} {'rdflib':>10s} {'ratio':>7s}")
    for name, q in sorted(bundled.queries().items()):
        ox_ms = _median_ms(lambda q=q: list(ox_store.query(q.text)), args.repeat)
        rd = _in_child(lambda q=q: list(rd_store.query(q.text)), max(3, args.repeat // 5),
                       args.limit)
        if isinstance(rd, str):
            print(f"  {name:36s} {ox_ms:10.2f}   {rd}")
        else:
            print(f"  {name:36s} {ox_ms:10.2f} {rd:10.2f} {rd / ox_ms:6.0f}x")


if __name__ == "__main__":
    main()
