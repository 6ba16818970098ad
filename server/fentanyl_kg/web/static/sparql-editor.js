/* A small SPARQL editor: a plain <textarea> over a highlighted copy of its text.
 * No dependencies and nothing from the network. The textarea stays the real input
 * (forms, accessibility, copy and paste); the <pre> behind it only shows colours.
 * Tokens are built with textContent, never innerHTML. */
(function () {
  "use strict";

  var KEYWORDS = ("BASE PREFIX SELECT CONSTRUCT DESCRIBE ASK WHERE FROM NAMED DISTINCT REDUCED " +
    "AS ORDER BY ASC DESC LIMIT OFFSET GROUP HAVING VALUES OPTIONAL UNION MINUS GRAPH SERVICE " +
    "SILENT FILTER BIND EXISTS NOT IN UNDEF A TRUE FALSE COUNT SUM MIN MAX AVG SAMPLE " +
    "GROUP_CONCAT SEPARATOR STR LANG LANGMATCHES DATATYPE BOUND IRI URI BNODE RAND ABS CEIL " +
    "FLOOR ROUND CONCAT STRLEN UCASE LCASE ENCODE_FOR_URI CONTAINS STRSTARTS STRENDS " +
    "STRBEFORE STRAFTER YEAR MONTH DAY HOURS MINUTES SECONDS TIMEZONE TZ NOW UUID STRUUID " +
    "MD5 SHA1 SHA256 SHA384 SHA512 COALESCE IF STRLANG STRDT SAMETERM ISIRI ISURI ISBLANK " +
    "ISLITERAL ISNUMERIC REGEX SUBSTR REPLACE").split(" ");
  var KEYWORD_SET = {};
  KEYWORDS.forEach(function (k) { KEYWORD_SET[k] = true; });

  // Order matters: the first alternative that matches at a position wins.
  var TOKEN = new RegExp([
    "(#[^\\n]*)",                                        // 1 comment
    "(<[^<>\"{}|^`\\\\\\s]*>)",                          // 2 IRI
    "(\"\"\"[\\s\\S]*?(?:\"\"\"|$)|'''[\\s\\S]*?(?:'''|$)|\"(?:[^\"\\\\\\n]|\\\\.)*\"?|'(?:[^'\\\\\\n]|\\\\.)*'?)", // 3 string
    "([?$][A-Za-z0-9_\\u00C0-\\uFFFF]+)",               // 4 variable
    "(@[A-Za-z]+(?:-[A-Za-z0-9]+)*)",                    // 5 language tag
    "([A-Za-z][\\w.-]*:[\\w.:%-]*|:[\\w.:%-]+)",          // 6 prefixed name
    "([+-]?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)",           // 7 number
    "([A-Za-z_]+)",                                      // 8 word (keyword or not)
  ].join("|"), "g");

  function tokens(text) {
    var out = [], last = 0, m;
    TOKEN.lastIndex = 0;
    while ((m = TOKEN.exec(text)) !== null) {
      if (m[0] === "") { TOKEN.lastIndex++; continue; }
      if (m.index > last) out.push(["", text.slice(last, m.index)]);
      var kind = m[1] ? "comment" : m[2] ? "iri" : m[3] ? "string" : m[4] ? "var" :
        m[5] ? "lang" : m[6] ? "pname" : m[7] ? "number" :
        (KEYWORD_SET[m[8].toUpperCase()] ? "keyword" : "");
      out.push([kind, m[0]]);
      last = TOKEN.lastIndex;
    }
    if (last < text.length) out.push(["", text.slice(last)]);
    return out;
  }

  function paint(code, text) {
    while (code.firstChild) code.removeChild(code.firstChild);
    tokens(text).forEach(function (t) {
      if (!t[0]) { code.appendChild(document.createTextNode(t[1])); return; }
      var span = document.createElement("span");
      span.className = "tok-" + t[0];
      span.textContent = t[1];
      code.appendChild(span);
    });
    // A trailing newline needs a character after it, or the last line would not show.
    code.appendChild(document.createTextNode("\n"));
  }

  function attach(textarea, code, onRun) {
    var pre = code.parentNode;
    function update() { paint(code, textarea.value); sync(); }
    function sync() { pre.scrollTop = textarea.scrollTop; pre.scrollLeft = textarea.scrollLeft; }
    textarea.addEventListener("input", update);
    textarea.addEventListener("scroll", sync);
    textarea.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        if (onRun) onRun();
      } else if (e.key === "Tab" && !e.shiftKey && !e.altKey && !e.ctrlKey) {
        e.preventDefault();
        var s = textarea.selectionStart, end = textarea.selectionEnd;
        textarea.value = textarea.value.slice(0, s) + "  " + textarea.value.slice(end);
        textarea.selectionStart = textarea.selectionEnd = s + 2;
        update();
      }
    });
    update();
    return {
      get: function () { return textarea.value; },
      set: function (text) { textarea.value = text; update(); },
    };
  }

  window.SparqlEditor = { attach: attach, tokens: tokens };
})();
