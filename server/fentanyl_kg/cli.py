"""The fentanyl-kg command line: build, validate, query, cite, serve.

Exit codes: 0 success, 1 the data is invalid, 2 the command cannot run.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
import pyoxigraph as ox

from fentanyl_kg import __version__, build, store
from fentanyl_kg.errors import KgError, StatementError, StatementErrors, ValidationFailed
from fentanyl_kg.namespaces import CLAIM

F = TypeVar("F", bound=Callable[..., Any])
DATA = click.option("--data", "data_dir", type=click.Path(path_type=Path), default="graph_data",
                    show_default=True, help="The graph_data folder to read.")
OUT = click.option("--out", "out_dir", type=click.Path(path_type=Path), default="build",
                   show_default=True, help="Where releases are written (build/release).")


def _fail(code: int, message: str) -> None:
    click.echo(message, err=True)
    sys.exit(code)


def _handle_errors(fn: F) -> F:
    """Map the project's errors to exit codes: 1 for invalid data, 2 for anything else."""
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StatementErrors as exc:
            _fail(1, "\n".join(str(e) for e in exc.errors) +
                  f"\n{len(exc.errors)} error(s) in the statement files")
        except StatementError as exc:
            _fail(1, str(exc))
        except ValidationFailed as exc:
            _fail(1, "\n".join(exc.messages) + f"\n{len(exc.messages)} violation(s)")
        except (KgError, OSError) as exc:
            _fail(2, f"error: {exc}")
    return wrapper  # type: ignore[return-value]


@click.group()
@click.version_option(__version__, prog_name="fentanyl-kg")
def main() -> None:
    """fentanyl-kg: a citation-traced knowledge graph of the illicit fentanyl economy."""


@main.command("build")
@DATA
@OUT
@_handle_errors
def build_cmd(data_dir: Path, out_dir: Path) -> None:
    """Validate, reason and write a release (N-Quads, TriG, VoID, validation report)."""
    if not data_dir.is_dir():
        _fail(2, f"error: no such folder: {data_dir}")
    start = time.perf_counter()
    release = build.build(data_dir, out_dir, progress=lambda m: click.echo(m, err=True))
    c = release.counts
    click.echo(f"built release {release.version} in {time.perf_counter() - start:.1f} s: "
               f"{c['claims']} claims, {c['entities']} entities, {c['situations']} flows/events/"
               f"observations/findings, {c['sources']} sources, "
               f"{c['asserted_triples']} asserted + {c['inferred_triples']} inferred triples "
               f"-> {release.path}")


@main.command("validate")
@DATA
@_handle_errors
def validate_cmd(data_dir: Path) -> None:
    """Check the statement files and the SHACL shapes without writing anything."""
    if not data_dir.is_dir():
        _fail(2, f"error: no such folder: {data_dir}")
    checked = build.check(data_dir, progress=lambda m: click.echo(m, err=True))
    b = checked.built
    click.echo(f"valid: {b.claims} claims, {b.entities} entities, {b.situations} flows/events/"
               f"observations/findings, {b.sources} sources, "
               f"{len(checked.report.warnings)} warning(s)")


def _open(out_dir: Path) -> ox.Store:
    release = store.read_release(out_dir)
    if release is None:
        _fail(2, f"error: no release in {out_dir}; run `fentanyl-kg build` first")
    return store.load_store(release)  # type: ignore[arg-type]


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


@main.command("query")
@click.argument("sparql", required=False)
@click.option("--file", "query_file", type=click.File("r", encoding="utf-8"),
              help="Read the query from a file.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@OUT
@_handle_errors
def query_cmd(sparql: str | None, query_file: io.TextIOBase | None, fmt: str,
              out_dir: Path) -> None:
    """Run a SPARQL query over the current release.

    The default graph is the union of the claim graphs and the inferred graph;
    GRAPH reaches the provenance and ontology graphs too.
    """
    text = query_file.read() if query_file else sparql
    if not text:
        _fail(2, "error: give a query as an argument or with --file")
    st = _open(out_dir)
    try:
        result = st.query(str(text))
    except SyntaxError as exc:
        _fail(2, f"error: the query does not parse: {exc}")
    if isinstance(result, ox.QueryBoolean):
        click.echo(json.dumps({"boolean": bool(result)}) if fmt == "json" else str(bool(result)))
        return
    if isinstance(result, ox.QueryTriples):
        click.echo((ox.serialize(list(result), format=ox.RdfFormat.TURTLE) or b"").decode())
        return
    names = [v.value for v in result.variables]
    rows = [[("" if row[n] is None else row[n].value) for n in names] for row in result]
    if fmt == "csv":
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([names, *rows])
        click.echo(buf.getvalue(), nl=False)
    elif fmt == "json":
        click.echo(json.dumps([dict(zip(names, r, strict=True)) for r in rows], indent=2,
                              ensure_ascii=False))
    else:
        click.echo(_table(names, rows))


@main.command("cite")
@click.argument("target", required=False)
@click.option("--s", "s", default="", help="Subject: entity slug, prefix:name or <iri>.")
@click.option("--p", "p", default="", help="Property, e.g. fkg:amount (or a).")
@click.option("--o", "o", default="", help="Value: entity, IRI, or literal text such as 83.5.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@OUT
@_handle_errors
def cite_cmd(target: str | None, s: str, p: str, o: str, as_json: bool, out_dir: Path) -> None:
    """Print every claim that supports an entity, a claim, or a triple pattern.

    TARGET is an entity (claims where it is subject or value) or a claim IRI (claim:<hex>).
    For an inferred triple, the asserted claims it was derived from are printed. The
    answers are those of the endpoint's /cite.
    """
    from fentanyl_kg.web.cite import Citer, parse_pattern

    if not (target or s or p or o):
        _fail(2, "error: give an entity, a claim, or at least one of --s/--p/--o")
    st = _open(out_dir)
    citer = Citer(st)
    if target and target.strip("<>").startswith(("claim:", str(CLAIM))):
        iri = target.strip("<>")
        iri = str(CLAIM) + iri[len("claim:"):] if iri.startswith("claim:") else iri
        claim = citer.claim(iri)
        found = [{**claim, "supports": []}] if claim else []
    else:
        patterns = [(target, "", ""), ("", "", target)] if target else [(s, p, o)]
        supports = [citer.explain(ts) for pat in patterns
                    for ts in citer.match(*parse_pattern(st, *pat))]
        found = citer.cite(supports)
    if as_json:
        click.echo(json.dumps(found, indent=2, ensure_ascii=False))
    else:
        _print_citations(found)
    if not found:
        sys.exit(1)


def _print_citations(found: list[dict[str, Any]]) -> None:
    for c in found:
        extra = [(k, c.get(k)) for k in ("confidence", "primary_source", "note")]
        click.echo(f"{c['record_id']}  {c['claim']}\n  {c['text']}\n"
                   f"  source: {c['source_title']} <{c['source']}>\n  locator: {c['locator']}" +
                   "".join(f"\n  {k.replace('_', ' ')}: {v}" for k, v in extra if v))
        for t in c["supports"]:
            how = "  (premise of an inferred triple)" if t["inferred"] else ""
            click.echo("    " + " ".join(_term(t[k]) for k in ("s", "p", "o")) + how)
    click.echo(f"{len(found)} claim(s)")


def _term(t: dict[str, str]) -> str:
    if t["type"] == "uri":
        return f"<{t['value']}>"
    suffix = f"@{t['xml:lang']}" if "xml:lang" in t else (
        f"^^<{t['datatype']}>" if "datatype" in t else "")
    return json.dumps(t["value"], ensure_ascii=False) + suffix


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--store-path", type=click.Path(path_type=Path), default=None,
              help="Keep the Oxigraph store on disk here (setting STORE_PATH).")
@click.option("--data", "data_dir", type=click.Path(path_type=Path), default=None,
              help="The graph_data folder to build from (setting DATA_DIR, default graph_data).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Where releases are built and found (setting OUT_DIR, default build).")
@_handle_errors
def serve_cmd(host: str, port: int, threads: int, store_path: Path | None,
              data_dir: Path | None, out_dir: Path | None) -> None:
    """Serve the SPARQL endpoint and Linked Data pages (builds the release first if needed).

    Settings come from the defaults, then FENTANYL_KG_* variables, then the flags given here.
    SIGTERM or Ctrl-C lets the requests in progress finish; SIGHUP swaps in a new release."""
    from fentanyl_kg.web import serve  # Flask is only needed here

    given = {"STORE_PATH": store_path, "DATA_DIR": data_dir, "OUT_DIR": out_dir}
    serve.run({k: v for k, v in given.items() if v is not None}, host=host, port=port,
              threads=threads)
