"""Benchmark the build stages and named-query latency (pyoxigraph against rdflib), in one run.

Usage: python bench/run.py [--data graph_data] [--runs 3] [--repeat 20]
Prints medians, and ratios taken within this run only.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("graph_data"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=20)
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

    rd = Dataset(default_union=True)
    rd.parse(data=data.decode(), format="nquads")
    print(f"\nnamed queries, median of {args.repeat} runs (ms); rdflib over the union of graphs:")
    print(f"  {'query':36s} {'pyoxigraph':>10s} {'rdflib':>10s} {'ratio':>7s}")
    for name, q in sorted(bundled.queries().items()):
        try:
            ox_ms = _median_ms(lambda q=q: list(ox_store.query(q.text)),
                               args.repeat)
            rd_ms = _median_ms(lambda q=q: list(rd.query(q.text)), max(3, args.repeat // 5))
        except Exception as exc:  # a benchmark reports and goes on
            print(f"  {name:36s} skipped: {exc}")
            continue
        print(f"  {name:36s} {ox_ms:10.2f} {rd_ms:10.2f} {rd_ms / ox_ms:6.0f}x")


if __name__ == "__main__":
    main()
