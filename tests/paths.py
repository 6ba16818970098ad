"""Where test inputs live."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
MINI = DATA / "mini"
REAL = ROOT / "graph_data"

def _shared() -> Path:
    """The read-only shared/ folder: FENTANYL_KG_SHARED if set, else beside the checkout (as CI
    lays it out), else the workplace's /work/shared (a clone made elsewhere for a trial run)."""
    for candidate in (os.environ.get("FENTANYL_KG_SHARED"), ROOT.parent / "shared",
                      "/work/shared"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return ROOT.parent / "shared"


SHARED = _shared()
