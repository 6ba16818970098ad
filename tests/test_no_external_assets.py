"""No page loads a script, stylesheet, font, frame or image from another host (a CDN): every
asset is served by the app itself, so the pages work offline and leak no visitor to a third
party. Checked in the template and static files as written, and in the rendered pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from importlib import resources

import pytest
from flask import Flask
from web_support import close_app, make_app

ASSET_TAGS = {"script", "img", "iframe", "frame", "embed", "object", "source", "audio", "video",
              "track", "input", "image", "use", "link"}
ASSET_ATTRS = {"src", "href", "data", "srcset", "poster", "xlink:href"}
# rel values of <link> that make the browser fetch something (alternate/canonical do not).
FETCHING_RELS = {"stylesheet", "preload", "modulepreload", "prefetch", "preconnect",
                 "dns-prefetch", "icon", "shortcut", "apple-touch-icon", "manifest", "import",
                 "mask-icon"}
EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.I)  # http://x, https://x, //x
CSS_EXTERNAL = re.compile(r"""(?:@import\s+|url\(\s*)['"]?\s*(?:[a-z][a-z0-9+.-]*:)?//""", re.I)
JS_EXTERNAL = re.compile(
    r"""(?:\bimport\s*\(?\s*|\bfrom\s+|\.src\s*=\s*|importScripts\s*\(\s*)['"`]"""
    r"""(?:[a-z][a-z0-9+.-]*:)?//""", re.I)


class Assets(HTMLParser):
    """The URLs of everything a page makes the browser fetch, with the tag they come from."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ASSET_TAGS:
            return
        values = {name: value or "" for name, value in attrs}
        if tag == "link" and not set(values.get("rel", "").lower().split()) & FETCHING_RELS:
            return
        for name, value in values.items():
            if name in ASSET_ATTRS:
                for part in value.split(",") if name == "srcset" else [value]:
                    self.urls.append((tag, part.strip().split(" ")[0]))


def external_assets(html: str) -> list[tuple[str, str]]:
    """(tag, URL) of every asset on another host, and every CSS import or url() of one."""
    parser = Assets()
    parser.feed(html)
    found = [(tag, url) for tag, url in parser.urls if EXTERNAL.match(url)]
    found += [("css", m.group(0)) for m in CSS_EXTERNAL.finditer(html)]
    return found


def package_files(folder: str, suffixes: tuple[str, ...]) -> list[resources.abc.Traversable]:
    root = resources.files(f"fentanyl_kg.web.{folder}")
    files = [f for f in root.iterdir() if f.name.endswith(suffixes)]
    assert files, folder
    return files


@pytest.mark.parametrize("name", sorted(f.name for f in package_files("templates", (".html",))))
def test_no_template_loads_from_another_host(name: str) -> None:
    text = resources.files("fentanyl_kg.web.templates").joinpath(name).read_text("utf-8")
    # Jinja expressions are left in place; a literal external URL is what a CDN tag looks like.
    assert external_assets(text) == [], name
    assert not JS_EXTERNAL.search(text), name


@pytest.mark.parametrize("name", sorted(f.name for f in package_files("static", (".js", ".css"))))
def test_no_static_file_loads_from_another_host(name: str) -> None:
    text = resources.files("fentanyl_kg.web.static").joinpath(name).read_text("utf-8")
    assert not CSS_EXTERNAL.search(text), name
    assert not JS_EXTERNAL.search(text), name


@pytest.fixture(scope="module")
def pages_app() -> Iterator[Flask]:
    app = make_app()
    yield app
    close_app(app)


PAGES = ["/", "/?query=SELECT%20*%20WHERE%20%7B%7D", "/id/sonora", "/id/source/test-brief",
         "/id/source/test-news", "/sources", "/cite", "/cite?s=sonora", "/ontology",
         "/query/places_within", "/query/recommendations_for_country?country=canada",
         "/graph/inferred", "/id/no-such-thing", "/query/no-such-query"]


@pytest.mark.parametrize("path", PAGES)
def test_no_rendered_page_loads_from_another_host(pages_app: Flask, path: str) -> None:
    resp = pages_app.test_client().get(path, headers={"Accept": "text/html"})
    assert resp.mimetype == "text/html", (path, resp.status_code)
    html = resp.get_data(as_text=True)
    assert "<head" in html and "</html>" in html
    assert external_assets(html) == [], path
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S | re.I)
    assert not any(JS_EXTERNAL.search(s) for s in scripts), path


def test_the_checks_catch_a_cdn_tag() -> None:
    """The detector itself: each way of loading from a CDN is found."""
    cases = ['<script src="https://cdn.jsdelivr.net/npm/x.js"></script>',
             '<link rel="stylesheet" href="//fonts.googleapis.com/css?family=X">',
             "<LINK REL='Preload' HREF='https://unpkg.com/y.css' as=style>",
             '<img srcset="/a.png 1x, https://img.example/b.png 2x">',
             '<style>@import url("https://cdn.example/z.css");</style>',
             '<div style="background: url(//cdn.example/bg.png)"></div>']
    for case in cases:
        assert external_assets(case), case
    assert JS_EXTERNAL.search('import x from "https://esm.sh/x";')
    assert not external_assets('<link rel="alternate" type="text/turtle" href="https://w3id.org/'
                               'fentanyl-kg/id/x"><a href="https://example.org/">source</a>')
