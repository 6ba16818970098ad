/* The query page: runs the editor's query on /sparql with citations=1 and shows the
 * results as a paged table with a "sources" column. Every value from the server is put
 * in the page with textContent or as an attribute, never as HTML. */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("page-config").textContent);
  var form = document.getElementById("query-form");
  var statusEl = document.getElementById("status");
  var resultsEl = document.getElementById("results");
  var linksEl = document.getElementById("links");
  var editor = window.SparqlEditor.attach(
    document.getElementById("query"), document.getElementById("highlight"), run);

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function safeHref(url) {
    return /^(https?:\/\/|\/(?!\/))/.test(url) ? url : "#";
  }

  function localHref(iri) {
    if (iri.indexOf(config.publicBase) === 0) {
      return config.root + "/" + iri.slice(config.publicBase.length);
    }
    return null;
  }

  function compact(iri) {
    var best = null;
    Object.keys(config.prefixes).forEach(function (p) {
      var ns = config.prefixes[p];
      if (iri.indexOf(ns) === 0 && /^[\w.-]*$/.test(iri.slice(ns.length)) &&
          (best === null || ns.length > config.prefixes[best].length)) best = p;
    });
    return best === null ? iri : best + ":" + iri.slice(config.prefixes[best].length);
  }

  function termNode(t) {
    if (!t) return document.createTextNode("");
    if (t.type === "uri") {
      var local = localHref(t.value);
      var a = el("a", { href: local || safeHref(t.value), title: t.value }, compact(t.value));
      if (!local) a.className = "ext";
      return a;
    }
    if (t.type === "bnode") return el("span", { "class": "bnode" }, "_:" + t.value);
    var span = el("span", { "class": "lit" }, t.value);
    var wrap = document.createDocumentFragment();
    wrap.appendChild(span);
    if (t["xml:lang"]) wrap.appendChild(el("sup", { "class": "lang" }, t["xml:lang"]));
    else if (t.datatype) wrap.appendChild(el("sup", { "class": "dt" }, compact(t.datatype)));
    return wrap;
  }

  var NAMING = /#(type|label|prefLabel|altLabel)$/;

  // Claims that state the row's facts first; those that only name or type an entity after.
  function weight(c) {
    return (c.supports || []).filter(function (s) { return !NAMING.test(s.p.value); }).length;
  }

  function sourcesNode(claims) {
    if (!claims || !claims.length) return el("span", { "class": "none" }, "no citation");
    claims = claims.slice().sort(function (a, b) { return weight(b) - weight(a); });
    var wrap = document.createDocumentFragment();
    var ul = wrap.appendChild(el("ul", { "class": "cites" }));
    var more = null;
    claims.forEach(function (c, i) {
      if (i === 2 && claims.length > 3) {
        more = wrap.appendChild(el("details", { "class": "more-cites" }));
        more.appendChild(el("summary", {}, (claims.length - 2) + " more sources"));
        ul = more.appendChild(el("ul", { "class": "cites" }));
      }
      var li = el("li");
      var inferred = c.supports && c.supports.length &&
        c.supports.every(function (s) { return s.inferred; });
      if (inferred) li.appendChild(el("span", { "class": "inferred", title:
        "this claim is a premise of an inferred fact in the row" }, "via inference"));
      li.appendChild(el("a", { href: localHref(c.source) || "#", "class": "source",
        title: c.source_title }, c.source_title));
      li.appendChild(document.createTextNode(", " + (c.locator || "")));
      if (c.source_url) {
        li.appendChild(document.createTextNode(" "));
        li.appendChild(el("a", { "class": "ext", href: safeHref(c.source_url),
          rel: "nofollow noopener", title: "open the source" }, "↗"));
      }
      li.appendChild(document.createTextNode(" · "));
      li.appendChild(el("a", { "class": "claim", href: localHref(c.claim) || "#",
        title: c.text || "" }, "claim " + (c.record_id || "")));
      ul.appendChild(li);
    });
    return wrap;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function showError(message) {
    clear(resultsEl);
    resultsEl.appendChild(el("p", { "class": "error" }, message));
  }

  function renderTable(data, page) {
    clear(resultsEl);
    var vars = data.head.vars || [];
    var rows = data.results.bindings || [];
    var cites = data.citations || null;
    var size = config.pageSize, pages = Math.max(1, Math.ceil(rows.length / size));
    page = Math.min(Math.max(page, 1), pages);
    var first = (page - 1) * size, last = Math.min(page * size, rows.length);
    if (data.truncated) {
      resultsEl.appendChild(el("p", { "class": "warning" },
        "The server stopped at its row limit: these are not all the results. " +
        "Add LIMIT/OFFSET or narrow the query."));
    }
    var pager = el("p", { "class": "pager" }, rows.length ?
      "Rows " + (first + 1) + "–" + last + " of " + rows.length +
      (pages > 1 ? " (page " + page + " of " + pages + ")" : "") : "No rows.");
    [[page - 1, "previous page", page > 1], [page + 1, "next page", page < pages]]
      .forEach(function (p) {
        if (!p[2]) return;
        pager.appendChild(document.createTextNode(" · "));
        var a = el("a", { href: "#", rel: p[1] === "next page" ? "next" : "prev" }, p[1]);
        a.addEventListener("click", function (e) { e.preventDefault(); renderTable(data, p[0]); });
        pager.appendChild(a);
      });
    resultsEl.appendChild(pager);
    if (!rows.length) return;
    var table = el("table", { "class": "results" });
    var head = el("tr");
    vars.forEach(function (v) { head.appendChild(el("th", {}, v)); });
    if (cites) head.appendChild(el("th", {}, "sources"));
    table.appendChild(el("thead")).appendChild(head);
    var body = table.appendChild(el("tbody"));
    for (var i = first; i < last; i++) {
      var tr = el("tr");
      vars.forEach(function (v) { tr.appendChild(el("td")).appendChild(termNode(rows[i][v])); });
      if (cites) tr.appendChild(el("td", { "class": "sources" })).appendChild(sourcesNode(cites[i]));
      body.appendChild(tr);
    }
    resultsEl.appendChild(table);
    if (data.citations_incomplete && data.citations_incomplete.length) {
      resultsEl.appendChild(el("p", { "class": "help" },
        "Sources may be incomplete for " + data.citations_incomplete.length + " row(s)."));
    }
  }

  function setLinks(query) {
    var enc = encodeURIComponent(query);
    var share = location.origin + config.root + "/#query=" + enc;
    document.getElementById("share-link").setAttribute("href", share);
    document.getElementById("csv-link").setAttribute("href", config.sparql + "?format=csv&query=" + enc);
    document.getElementById("json-link").setAttribute("href", config.sparql + "?format=json&citations=1&query=" + enc);
    document.getElementById("tsv-link").setAttribute("href", config.sparql + "?format=tsv&query=" + enc);
    linksEl.hidden = false;
    if (history.replaceState) history.replaceState(null, "", "#query=" + enc);
  }

  function run() {
    var query = editor.get();
    if (!query.trim()) { showError("Write a query first."); return; }
    statusEl.textContent = "Running…";
    setLinks(query);
    var started = Date.now();
    fetch(config.sparql, {
      method: "POST",
      headers: { "Accept": "application/sparql-results+json, text/turtle;q=0.5",
                 "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ query: query, citations: "1" }).toString(),
    }).then(function (resp) {
      var type = resp.headers.get("Content-Type") || "";
      if (!resp.ok) {
        return resp.text().then(function (text) {
          var msg = text;
          try { msg = JSON.parse(text).error || text; } catch (e) { /* plain text */ }
          throw new Error(resp.status + ": " + msg);
        });
      }
      if (type.indexOf("json") >= 0) return resp.json();
      return resp.text().then(function (text) { return { text: text }; });
    }).then(function (data) {
      statusEl.textContent = "Done in " + (Date.now() - started) + " ms.";
      if (data.text !== undefined) {
        clear(resultsEl);
        resultsEl.appendChild(el("pre", { "class": "rdf" }, data.text));
      } else if (data["boolean"] !== undefined) {
        clear(resultsEl);
        resultsEl.appendChild(el("p", { "class": "boolean" }, "Answer: " + data["boolean"]));
      } else {
        renderTable(data, 1);
      }
    }).catch(function (err) {
      statusEl.textContent = "";
      showError(err.message);
    });
  }

  form.addEventListener("submit", function (e) { e.preventDefault(); run(); });

  Array.prototype.forEach.call(document.querySelectorAll(".load-query"), function (button) {
    button.addEventListener("click", function () {
      var q = config.queries[button.getAttribute("data-name")];
      if (!q) return;
      editor.set(q.text);
      run();
    });
  });

  // A shared link carries the query in the fragment (#query=...) or in ?query=.
  var fromHash = new URLSearchParams(location.hash.slice(1)).get("query");
  if (fromHash) editor.set(fromHash);
  if (fromHash || new URLSearchParams(location.search).get("query")) run();
  else if (!editor.get().trim()) {
    var names = Object.keys(config.queries);
    if (names.length) editor.set(config.queries[names[0]].text);
  }
})();
