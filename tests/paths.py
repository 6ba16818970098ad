"""Where test inputs live."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
MINI = DATA / "mini"
REAL = ROOT / "graph_data"
SHARED = ROOT.parent / "shared"
