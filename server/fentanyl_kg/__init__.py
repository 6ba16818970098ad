"""fentanyl-kg: a citation-traced knowledge graph of the illicit fentanyl economy."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fentanyl-kg")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
