"""The whole build: release files, counts, determinism, atomicity and exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from fentanyl_kg import build, cli, store
from fentanyl_kg.errors import StatementErrors
from fentanyl_kg.store import Release
from paths import MINI

FILES = {"dataset.nq", "dataset.trig", "void.ttl", "validation.ttl", "release.json"}


def test_release_files_and_counts(mini_release: Release) -> None:
    assert {p.name for p in mini_release.path.iterdir()} == FILES
    c = mini_release.counts
    assert (c["claims"], c["entities"], c["situations"], c["sources"]) == (16, 11, 3, 3)
    assert c["inferred_triples"] > 0
    assert c["quads"] == len(mini_release.nquads.read_bytes().splitlines())
    meta = json.loads((mini_release.path / "release.json").read_text())
    assert meta["version"] == mini_release.version


def test_release_loads_into_oxigraph_with_the_contract_graphs(mini_release: Release) -> None:
    st = store.load_store(mini_release)
    graphs = {g.value for g in st.named_graphs()}
    base = "https://w3id.org/fentanyl-kg/"
    assert {base + "graph/provenance", base + "graph/ontology", base + "graph/inferred"} <= graphs
    others = graphs - {base + "graph/provenance", base + "graph/ontology", base + "graph/inferred"}
    assert len(others) == 16 and all(g.startswith(base + "id/claim/") for g in others)
    named = [q for q in st.quads_for_pattern(None, None, None, None)
             if q.graph_name != ox.DefaultGraph()]
    assert len(named) == mini_release.counts["quads"]
    # the default graph is the union of the claim graphs and the inferred graph
    union = {(q.subject, q.predicate, q.object) for q in named
             if "/id/claim/" in str(q.graph_name) or str(q.graph_name).endswith("inferred>")}
    default = {(q.subject, q.predicate, q.object)
               for q in st.quads_for_pattern(None, None, None, ox.DefaultGraph())}
    assert default == union


def _build_in_subprocess(out: Path) -> None:
    # A fresh interpreter with another hash seed: set and dict order must not leak into output.
    subprocess.run([sys.executable, "-m", "fentanyl_kg", "build", "--data", str(MINI),
                    "--out", str(out)], check=True, capture_output=True,
                   env={"PYTHONHASHSEED": str(len(str(out))), "PATH": "/usr/bin:/bin"})


def test_two_builds_give_identical_bytes(tmp_path: Path) -> None:
    _build_in_subprocess(tmp_path / "a")
    _build_in_subprocess(tmp_path / "bb")
    for name in FILES:
        a = (tmp_path / "a" / "release" / name).read_bytes()
        b = (tmp_path / "bb" / "release" / name).read_bytes()
        assert a == b, name


def test_failed_build_keeps_previous_release(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(MINI, data)
    out = tmp_path / "out"
    first = build.build(data, out)
    (data / "statements" / "zz.yaml").write_text("- id: s1\n  subject: x\n", encoding="utf-8")
    with pytest.raises(StatementErrors):
        build.build(data, out)
    current = store.read_release(out)
    assert current is not None and current.version == first.version
    assert (out / "release" / "dataset.nq").read_bytes() == first.nquads.read_bytes()
    assert not any(p.name.startswith(".tmp-") for p in (out / "releases").iterdir())


def test_a_new_release_replaces_the_link_atomically(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(MINI, data)
    out = tmp_path / "out"
    first = build.build(data, out)
    text = (data / "statements" / "facts.yaml").read_text(encoding="utf-8")
    (data / "statements" / "facts.yaml").write_text(text.replace("page 5", "page 6"), "utf-8")
    second = build.build(data, out)
    assert second.version != first.version
    assert (out / "release").is_symlink()
    assert store.read_release(out).version == second.version  # type: ignore[union-attr]
    assert (out / "releases" / first.version).is_dir()  # the old one stays for open readers


@pytest.mark.parametrize(("args", "code", "words"), [
    (["build", "--data", str(MINI)], 0, "16 claims, 11 entities, 3 flows/events/observations/"
     "findings, 3 sources"),
    (["validate", "--data", str(MINI)], 0, "valid: 16 claims"),
    (["build", "--data", "/nonexistent/folder"], 2, "no such folder"),
    (["query", "SELECT * { ?s ?p ?o }"], 2, "no release"),
])
def test_exit_codes(runner: CliRunner, tmp_path: Path, args: list[str], code: int,
                    words: str) -> None:
    result = runner.invoke(cli.main, [*args, "--out", str(tmp_path / "o")] if args[0] != "validate"
                           else args)
    assert result.exit_code == code, result.output
    assert words in result.output


def test_invalid_data_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(MINI, data)
    (data / "statements" / "zz.yaml").write_text(
        "- id: q\n  subject: mexico\n  text: t\n  source: brief\n  locator: p\n"
        "  startYear: 1492x\n", encoding="utf-8")
    result = runner.invoke(cli.main, ["build", "--data", str(data), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert f"{data / 'statements' / 'zz.yaml'}:6: wrong datatype" in result.output


def test_shacl_violation_exits_1_with_file_and_line(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(MINI, data)
    text = (data / "statements" / "facts.yaml").read_text(encoding="utf-8")
    (data / "statements" / "facts.yaml").write_text(text.replace("amount: 83.5", "amount: 835"),
                                                    "utf-8")
    result = runner.invoke(cli.main, ["build", "--data", str(data), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1, result.output
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "quantity:" in t and i > 40)
    assert f"{data / 'statements' / 'facts.yaml'}:{line}:" in result.output
    assert not (tmp_path / "o" / "release").exists()


def test_release_knows_whether_it_is_current(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(MINI, data)
    release = build.build(data, tmp_path / "out")
    assert build.is_current(store.read_release(tmp_path / "out"), data)
    (data / "statements" / "facts.yaml").write_text(
        (data / "statements" / "facts.yaml").read_text("utf-8") + "\n", "utf-8")
    assert not build.is_current(release, data)
    assert not build.is_current(None, data)


def test_an_edit_that_changes_no_triple_keeps_the_version(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(MINI, data)
    first = build.build(data, tmp_path / "out")
    facts = data / "statements" / "facts.yaml"
    facts.write_text("# a comment\n" + facts.read_text("utf-8"), "utf-8")
    second = build.build(data, tmp_path / "out")
    assert second.version == first.version and second.inputs != first.inputs
    assert build.is_current(store.read_release(tmp_path / "out"), data)
