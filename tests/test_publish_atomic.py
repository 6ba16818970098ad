"""Publishing a release is atomic: whatever store.write does on the file system, a reader of
build/release finds, between any two of its operations, a complete release: every file of one
published build, never a missing link, a half-written file or files of two builds mixed.

Instead of racing a reader thread against the writer (which can miss a short window), every
file-system call that could change what build/release shows is wrapped, and the reader's view
is checked after each of them: a deterministic check of every intermediate state."""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fentanyl_kg import store

OS_CALLS = ["replace", "rename", "symlink", "unlink", "remove", "rmdir", "mkdir", "makedirs",
            "fsync", "link", "truncate", "chmod"]
SHUTIL_CALLS = ["rmtree", "move", "copytree", "copy", "copy2", "copyfile"]
RELEASE_JSON = "release.json"


def build_files(n: int, note: str = "") -> dict[str, bytes]:
    """The files of a small release; `n` changes the data, `note` only the validation report."""
    quads = b"".join(f"<urn:x:s{i}> <urn:x:p> \"{n}\" <urn:x:g> .\n".encode()
                     for i in range(50 + n))
    return {"dataset.nq": quads, "dataset.trig": b"# trig " + quads,
            "void.ttl": f"# void {n}\n".encode(), "validation.ttl": f"# ok {n}{note}\n".encode()}


class Reader:
    """What a reader of out/release sees, checked against every build published so far."""

    def __init__(self, out: Path) -> None:
        self.current = out / store.CURRENT
        self.published: list[dict[str, bytes]] = []  # builds whose publication has begun
        self.checks = 0
        self.busy = False
        self.live = False  # set once the first release is out: before it, none is expected

    def check(self, after: str) -> None:
        """Assert that out/release is a whole release of one published build."""
        if self.busy or not self.live:
            return
        self.busy = True
        try:
            self.checks += 1
            folder = self.current
            assert folder.is_dir(), f"after {after}: {folder} is missing"
            names = {p.name for p in folder.iterdir()}
            try:
                meta = json.loads((folder / RELEASE_JSON).read_bytes())
            except (OSError, ValueError) as exc:
                raise AssertionError(f"after {after}: release.json is unreadable: {exc}") \
                    from None
            assert meta.get("version"), f"after {after}: release.json has no version"
            seen = {name: (folder / name).read_bytes() for name in names if name != RELEASE_JSON
                    and not name.startswith(".")}
            assert any(all(seen.get(name) == data for name, data in build.items())
                       for build in self.published), \
                f"after {after}: the files of {folder} are not those of one build: {sorted(seen)}"
        finally:
            self.busy = False


def watched(reader: Reader, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = call(*args, **kwargs)
        reader.check(f"{name}{tuple(str(a) for a in args)}")
        return result
    return wrapper


@pytest.fixture()
def reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Reader:
    """A Reader of tmp_path/out, checked after every file-system call made while publishing."""
    r = Reader(tmp_path / "out")
    for name in OS_CALLS:
        if hasattr(os, name):
            monkeypatch.setattr(os, name, watched(r, f"os.{name}", getattr(os, name)))
    for name in SHUTIL_CALLS:
        monkeypatch.setattr(shutil, name, watched(r, f"shutil.{name}", getattr(shutil, name)))
    monkeypatch.setattr(tempfile, "mkdtemp", watched(r, "tempfile.mkdtemp", tempfile.mkdtemp))
    for name in ("write_bytes", "write_text", "touch"):
        monkeypatch.setattr(Path, name, watched(r, f"Path.{name}", getattr(Path, name)))
    # open() for writing truncates at once: check right after store.py opens a file.
    monkeypatch.setattr(store, "open", watched(r, "open", open), raising=False)
    return r


def publish(reader: Reader, files: dict[str, bytes], inputs: str = "") -> store.Release:
    reader.published.append(files)
    release = store.write(reader.current.parent, files, {"quads": 1}, inputs)
    reader.live = True
    reader.check("store.write returned")
    return release


def test_every_state_of_a_series_of_builds_is_a_whole_release(reader: Reader) -> None:
    first = publish(reader, build_files(0))
    versions = [first.version]
    for n in range(1, store.KEEP + 3):  # past KEEP, so that older releases are pruned too
        versions.append(publish(reader, build_files(n)).version)
    again = publish(reader, build_files(2))  # back to an older build's data
    assert again.version == versions[2]
    same = publish(reader, build_files(2), inputs="edited comments")  # same data, new inputs
    assert same.version == versions[2]
    assert json.loads((reader.current / RELEASE_JSON).read_text())["version"] == versions[2]
    assert (reader.current / "dataset.nq").read_bytes() == build_files(2)["dataset.nq"]
    assert reader.checks > 10 * len(versions)  # the hooks did see the publishing steps


def test_the_check_sees_a_non_atomic_swap(reader: Reader, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hooks catch a publish that removes build/release before linking the new one."""
    publish(reader, build_files(0))
    real_replace = os.replace

    def unlink_then_link(src: Any, dst: Any) -> None:
        if Path(dst).name == store.CURRENT:
            os.unlink(dst)  # a reader now finds no release at all
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", unlink_then_link)
    with pytest.raises(AssertionError, match="is missing"):
        publish(reader, build_files(1))
