"""Read graph_data/ into Source and Record objects that remember their file and line."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fentanyl_kg.errors import StatementError, StatementErrors
from fentanyl_kg.strict_yaml import Mapping, Sequence, read

RESERVED = ("id", "subject", "type", "label", "text", "source", "locator", "primary",
            "confidence", "note")
REQUIRED = ("id", "subject", "source", "locator", "text")
SOURCE_KEYS = ("id", "title", "publisher", "author", "issued", "type", "language", "url",
               "read_via", "note")
CONFIDENCE = ("high", "medium", "low")
# Limit (documented in graph_data/README.md): the largest real file holds ~240 records.
MAX_RECORDS = 5_000


@dataclass(frozen=True)
class Location:
    path: Path
    line: int

    def error(self, message: str) -> StatementError:
        return StatementError(self.path, self.line, message)


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    publisher: str | None
    author: str | None
    issued: str | None
    type: str | None
    language: str | None
    url: str | None
    read_via: dict[str, str] | None
    note: str | None
    at: Location


@dataclass(frozen=True)
class Property:
    """One `key: value` of a record; the value is raw YAML data, resolved by rdf.py."""

    key: str
    value: Any
    at: Location


@dataclass
class Record:
    id: str
    subject: str
    type: str | None
    label: dict[str, Any] | None
    text: str
    source: str
    locator: str
    primary: str | None
    confidence: str | None
    note: str | None
    properties: list[Property]
    at: Location
    key_lines: dict[str, int] = field(default_factory=dict)
    complete: bool = True  # False when required fields are missing: checked, never published

    def where(self, key: str) -> Location:
        """The location of one key of the record (the record's first line if unknown)."""
        return Location(self.at.path, self.key_lines.get(key, self.at.line))


@dataclass
class Corpus:
    """What was read. `errors` are reported together with the RDF stage's, so one run shows all."""

    sources: dict[str, Source]
    records: list[Record]
    errors: list[StatementError] = field(default_factory=list)


def _text(value: Any, at: Location, key: str, errors: list[StatementError]) -> str | None:
    """A field that must be one piece of text; a list or mapping there is reported."""
    if value is None or isinstance(value, str):
        return value
    errors.append(at.error(f"'{key}' must be text, got a "
                           f"{'list' if isinstance(value, list) else 'mapping'}"))
    return None


def _entries(path: Path, data: Any, what: str,
             errors: list[StatementError]) -> Iterator[Mapping]:
    """The mappings of a file's top-level list; anything else in the list is reported."""
    if data is None or data == "":
        return
    if not isinstance(data, Sequence):
        line = data.line if isinstance(data, Mapping) else 1
        raise StatementError(path, line, f"expected a YAML list of {what}")
    if len(data) > MAX_RECORDS:
        raise StatementError(path, data.line, f"the file holds {len(data):,} {what}, over the "
                             f"limit of {MAX_RECORDS:,}; split it into several files")
    for item, line in zip(data, data.item_lines, strict=True):
        if isinstance(item, Mapping):
            yield item
        else:
            kind = "list" if isinstance(item, list) else f"text {item!r}"
            errors.append(StatementError(path, line, f"every item must be a mapping of {what} "
                                         f"fields, got a {kind}"))


def _read(path: Path, what: str, errors: list[StatementError]) -> list[Mapping]:
    try:
        return list(_entries(path, read(path, errors), what, errors))
    except StatementError as exc:
        errors.append(exc)
        return []


def load_sources(path: Path, errors: list[StatementError]) -> dict[str, Source]:
    """Read the bibliography; report unknown fields, missing titles and duplicate ids."""
    sources: dict[str, Source] = {}
    for item in _read(path, "sources", errors):
        at = Location(path, item.line)
        unknown = sorted(set(item) - set(SOURCE_KEYS))
        if unknown:
            errors.append(at.error(f"unknown source field(s): {', '.join(unknown)}"))
        fields = {k: _text(item.get(k), at, k, errors) for k in SOURCE_KEYS if k != "read_via"}
        sid, title = fields["id"], fields["title"]
        if not sid or not title:
            errors.append(at.error("a source needs an 'id' and a 'title'"))
            continue
        if sid in sources:
            errors.append(at.error(f"duplicate source id '{sid}' (first at line "
                                   f"{sources[sid].at.line})"))
            continue
        via = item.get("read_via")
        if via is not None and not (isinstance(via, dict) and via.get("url")):
            errors.append(at.error("'read_via' needs a mapping with at least a 'url'"))
            via = None
        read_via: dict[str, str] | None = None
        if via:
            read_via = {}
            for k, v in via.items():
                if text := _text(v, at, f"read_via.{k}", errors):
                    read_via[k] = text
        sources[sid] = Source(
            id=sid, title=title, publisher=fields["publisher"], author=fields["author"],
            issued=fields["issued"], type=fields["type"], language=fields["language"],
            url=fields["url"], read_via=read_via, note=fields["note"], at=at)
    return sources


def _record(path: Path, item: Mapping, errors: list[StatementError]) -> Record:
    """One record; a record with missing fields is kept `complete=False`, so that the RDF
    stage still checks its properties and reports every defect in one run."""
    at = Location(path, item.line)
    fields = {k: _text(item.get(k), Location(path, item.key_lines.get(k, item.line)), k,
                       errors) for k in RESERVED if k != "label"}
    missing = [k for k in REQUIRED if not fields[k]]
    if missing:
        errors.append(at.error(f"missing required field(s): {', '.join(missing)}"))
    label = item.get("label")
    if label is not None and not isinstance(label, dict):
        line = item.key_lines.get("label", item.line)
        errors.append(StatementError(path, line, "'label' must map language codes to text, "
                                     "for example {en: Sonora, es: Sonora}"))
        label = None
    confidence = fields["confidence"]
    if confidence is not None and confidence not in CONFIDENCE:
        errors.append(StatementError(path, item.key_lines["confidence"],
                                     f"confidence '{confidence}' is not one of high, medium, low"))
        confidence = None
    props = [Property(k, v, Location(path, item.key_lines[k]))
             for k, v in item.items() if k not in RESERVED]
    return Record(
        id=fields["id"] or "", subject=fields["subject"] or "", type=fields["type"],
        label=label, text=(fields["text"] or "").strip(), source=fields["source"] or "",
        locator=(fields["locator"] or "").strip(), primary=fields["primary"],
        confidence=confidence, note=fields["note"], properties=props, at=at,
        key_lines=dict(item.key_lines), complete=not missing)


def statement_files(data_dir: Path) -> list[Path]:
    """Record files in a stable order: entities first, then statements, each by name."""
    files: list[Path] = []
    for sub in ("entities", "statements"):
        folder = data_dir / sub
        if folder.is_dir():
            files += sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))
    return files


def load(data_dir: Path) -> Corpus:
    """Read sources and records from a graph_data folder, collecting every problem in `errors`."""
    data_dir = Path(data_dir)
    errors: list[StatementError] = []
    sources_path = data_dir / "sources.yaml"
    if not sources_path.is_file():
        raise StatementErrors([StatementError(sources_path, None, "no bibliography found")])
    sources = load_sources(sources_path, errors)
    records: list[Record] = []
    seen: dict[str, Location] = {}
    for path in statement_files(data_dir):
        for item in _read(path, "records", errors):
            rec = _record(path, item, errors)
            if rec.id in seen:
                first = seen[rec.id]
                errors.append(rec.at.error(f"duplicate id '{rec.id}' (first used at "
                                           f"{first.path}:{first.line})"))
                continue
            if rec.id:
                seen[rec.id] = rec.at
            for key in ("source", "primary"):
                ref = getattr(rec, key)
                if ref and ref not in sources:
                    errors.append(rec.where(key).error(
                        f"unknown source key '{ref}' (not in {sources_path.name})"))
            records.append(rec)
    return Corpus(sources=sources, records=records, errors=errors)
