"""Read graph_data/ into Source and Record objects that remember their file and line."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fentanyl_kg.errors import StatementError, StatementErrors

RESERVED = ("id", "subject", "type", "label", "text", "source", "locator", "primary",
            "confidence", "note")
REQUIRED = ("id", "subject", "source", "locator", "text")
SOURCE_KEYS = ("id", "title", "publisher", "author", "issued", "type", "language", "url",
               "read_via", "note")
CONFIDENCE = ("high", "medium", "low")


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

    def where(self, key: str) -> Location:
        """The location of one key of the record (the record's first line if unknown)."""
        return Location(self.at.path, self.key_lines.get(key, self.at.line))


@dataclass
class Corpus:
    """What was read. `errors` are reported together with the RDF stage's, so one run shows all."""

    sources: dict[str, Source]
    records: list[Record]
    errors: list[StatementError] = field(default_factory=list)


class _Mapping(dict[str, Any]):
    """A YAML mapping that remembers the line of itself and of each key."""

    line: int = 0
    key_lines: dict[str, int]


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Mapping:
    loader.flatten_mapping(node)
    out = _Mapping()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool):
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be plain text", key_node.start_mark)
        key = str(key)
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}'", key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> Any:
    """Parse one YAML file, turning decoding and syntax errors into StatementError."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = raw[: exc.start].count(b"\n") + 1
        raise StatementError(path, bad_line, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} "
                             f"at offset {exc.start}); save the file as UTF-8") from None
    try:
        return yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "malformed YAML"
        raise StatementError(path, line, f"malformed YAML: {problem}") from None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _entries(path: Path, data: Any, what: str) -> Iterator[_Mapping]:
    if data is None:
        return
    if not isinstance(data, list):
        line = data.line if isinstance(data, _Mapping) else 1
        raise StatementError(path, line, f"expected a YAML list of {what}")
    for item in data:
        if not isinstance(item, _Mapping):
            raise StatementError(path, None, f"every item must be a mapping of {what} fields, "
                                 f"got {type(item).__name__}: {item!r}")
        yield item


def load_sources(path: Path, errors: list[StatementError]) -> dict[str, Source]:
    """Read the bibliography; report unknown fields, missing titles and duplicate ids."""
    sources: dict[str, Source] = {}
    try:
        items = list(_entries(path, read_yaml(path), "sources"))
    except StatementError as exc:
        errors.append(exc)
        return sources
    for item in items:
        at = Location(path, item.line)
        unknown = sorted(set(item) - set(SOURCE_KEYS))
        if unknown:
            errors.append(at.error(f"unknown source field(s): {', '.join(unknown)}"))
        sid, title = _text(item.get("id")), _text(item.get("title"))
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
        sources[sid] = Source(
            id=sid, title=title, publisher=_text(item.get("publisher")),
            author=_text(item.get("author")), issued=_text(item.get("issued")),
            type=_text(item.get("type")), language=_text(item.get("language")),
            url=_text(item.get("url")),
            read_via={k: str(v) for k, v in via.items() if v is not None} if via else None,
            note=_text(item.get("note")), at=at)
    return sources


def _record(path: Path, item: _Mapping, errors: list[StatementError]) -> Record | None:
    at = Location(path, item.line)
    missing = [k for k in REQUIRED if item.get(k) in (None, "")]
    if missing:
        errors.append(at.error(f"missing required field(s): {', '.join(missing)}"))
        return None
    label = item.get("label")
    if label is not None and not isinstance(label, dict):
        line = item.key_lines.get("label", item.line)
        errors.append(StatementError(path, line, "'label' must map language codes to text, "
                                     "for example {en: Sonora, es: Sonora}"))
        label = None
    confidence = _text(item.get("confidence"))
    if confidence is not None and confidence not in CONFIDENCE:
        errors.append(StatementError(path, item.key_lines["confidence"],
                                     f"confidence '{confidence}' is not one of high, medium, low"))
        confidence = None
    props = [Property(k, v, Location(path, item.key_lines[k]))
             for k, v in item.items() if k not in RESERVED]
    return Record(
        id=str(item["id"]), subject=str(item["subject"]), type=_text(item.get("type")),
        label=label, text=str(item["text"]).strip(), source=str(item["source"]),
        locator=str(item["locator"]).strip(), primary=_text(item.get("primary")),
        confidence=confidence, note=_text(item.get("note")), properties=props, at=at,
        key_lines=dict(item.key_lines))


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
        try:
            items = list(_entries(path, read_yaml(path), "record"))
        except StatementError as exc:
            errors.append(exc)
            continue
        for item in items:
            rec = _record(path, item, errors)
            if rec is None:
                continue
            if rec.id in seen:
                first = seen[rec.id]
                errors.append(rec.at.error(f"duplicate id '{rec.id}' (first used at "
                                           f"{first.path}:{first.line})"))
                continue
            seen[rec.id] = rec.at
            for key in ("source", "primary"):
                ref = getattr(rec, key)
                if ref is not None and ref not in sources:
                    errors.append(rec.where(key).error(
                        f"unknown source key '{ref}' (not in {sources_path.name})"))
            records.append(rec)
    return Corpus(sources=sources, records=records, errors=errors)
