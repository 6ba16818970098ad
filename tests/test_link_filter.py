"""Values from the data are never rendered as a script link: a source URL or an entity IRI of
javascript:, data: or vbscript: (any case, after spaces or control characters) is shown as
text and its href becomes "#" (pages.link_target)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pyoxigraph as ox
import pytest
from flask import Flask
from web_support import FIXTURE_TRIG, close_app, make_app, release_files, write_release

from fentanyl_kg.web.pages import link_target

HOSTILE = ["javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)",
           "\tjavascript:alert(1)", "\x01javascript:alert(1)", "\x00javascript:alert(1)",
           "java\tscript:alert(1)", "java\nscript:alert(1)", "javascript&colon;alert(1)",
           "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
           "DATA:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)",
           "VBScript:msgbox(1)", "  \x0c vbscript:msgbox(1)", "//evil.example/x",
           "\\\\evil.example/x", "file:///etc/passwd", "ftp://x/"]
SAFE = ["https://example.org/brief", "http://example.org/a?b=c#d", "/id/sonora", "/cite?s=x"]
BAD_SCHEMES = ("javascript:", "data:", "vbscript:", "file:")


@pytest.mark.parametrize("value", HOSTILE)
def test_link_target_refuses_script_and_odd_urls(value: str) -> None:
    assert link_target(value) == "#"


def test_link_target_refuses_a_backslash_protocol_relative_url() -> None:
    assert link_target("/\\evil.example/x") == "#"


@pytest.mark.parametrize("value", SAFE)
def test_link_target_keeps_web_and_local_links(value: str) -> None:
    assert link_target(value) == value


def browser_url(href: str) -> str:
    """The URL a browser would follow: leading C0 controls and spaces stripped, tabs and
    newlines removed anywhere (WHATWG URL parsing), scheme compared without case."""
    return re.sub(r"[\t\n\r]", "", href.lstrip("".join(map(chr, range(0x21))))).lower()


class Links(HTMLParser):
    """Every URL-bearing attribute of a page (attribute values come back unescaped)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src", "action", "formaction", "data", "xlink:href"):
                self.urls.append(value or "")


def turtle_string(text: str) -> str:
    return '"' + "".join(c if 0x20 <= ord(c) < 0x7f and c not in '"\\' else f"\\u{ord(c):04x}"
                         for c in text) + '"'


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The web fixture with one source and one source copy per hostile URL, the test brief's
    URL made hostile, and a fact on Sonora pointing at javascript: IRIs."""
    trig = FIXTURE_TRIG.read_text("utf-8").replace(
        'schema:url "https://example.org/brief"^^xsd:anyURI',
        f"schema:url {turtle_string(HOSTILE[0])}^^xsd:anyURI")
    extra = ["g:provenance {"]
    for i, url in enumerate(HOSTILE):
        extra.append(f'  source:hostile-{i} a dcterms:BibliographicResource ; rdfs:label '
                     f'"Hostile {i}" ; dcterms:title "Hostile {i}" ; schema:url '
                     f'{turtle_string(url)}^^xsd:anyURI ; fkg:consultedCopy '
                     f'<https://w3id.org/fentanyl-kg/id/source/hostile-{i}/copy> .')
        extra.append(f'  <https://w3id.org/fentanyl-kg/id/source/hostile-{i}/copy> a '
                     f'fkg:SourceCopy ; schema:url {turtle_string(url)}^^xsd:anyURI ; '
                     f'prov:alternateOf source:hostile-{i} .')
    extra += ["}", "claim:4d1f07b6a2e85c74 {",
              "  id:sonora rdfs:seeAlso <javascript:alert(1)>, <JaVaScRiPt:alert(2)>, "
              "<data:text/html,x>, <vbscript:msgbox(1)> .", "}"]
    quads = ox.parse(trig + "\n" + "\n".join(extra) + "\n", format=ox.RdfFormat.TRIG)
    folder = write_release(Path(tmp_path_factory.mktemp("hostile-links")) / "release",
                           release_files(quads))
    app = make_app(folder)
    yield app
    close_app(app)


def page_urls(app: Flask, path: str) -> tuple[str, list[str]]:
    resp = app.test_client().get(path, headers={"Accept": "text/html"})
    assert resp.status_code == 200, (path, resp.status_code, resp.get_data()[:300])
    text = resp.get_data(as_text=True)
    parser = Links()
    parser.feed(text)
    return text, parser.urls


def claims_of_brief(app: Flask) -> list[str]:
    data = app.test_client().get("/id/source/test-brief.json").get_json()
    return re.findall(r"https://w3id\.org/fentanyl-kg/id/claim/[0-9a-f]+", str(data))


def test_no_page_links_to_a_script_url(hostile_app: Flask) -> None:
    pages = ["/id/sonora", "/id/source/test-brief", "/sources",
             *(f"/id/source/hostile-{i}" for i in range(len(HOSTILE))),
             *(f"/id/source/hostile-{i}/copy" for i in range(len(HOSTILE)))]
    pages += [c.replace("https://w3id.org/fentanyl-kg", "") for c in claims_of_brief(hostile_app)]
    pages.append("/cite?s=https%3A%2F%2Fw3id.org%2Ffentanyl-kg%2Fid%2Fsonora")
    assert len(pages) > 2 * len(HOSTILE) + 4  # the brief's claims are among them
    shown = 0
    for path in pages:
        text, urls = page_urls(hostile_app, path)
        for url in urls:
            assert not browser_url(url).startswith(BAD_SCHEMES), (path, url)
            assert not browser_url(url).startswith(("//", "\\\\")), (path, url)
        shown += "alert(1)" in text or "msgbox(1)" in text or "base64" in text
    assert shown >= len(HOSTILE)  # the values are still shown, as text
