"""What a stranger's query may not do: update the store, reach out through SERVICE, or nest
deeply enough to crash the parser.

Three layers, used by the query workers (executor.py):
1. `check_service` reads the query at the level of tokens (lexer.py: comments, strings and IRIs
   are skipped, \\u escapes expanded first) and refuses any SERVICE whose endpoint is not a
   constant IRI in the allowlist, and any query nested more than MAX_NESTING brackets deep
   (pyoxigraph's parser overflows its stack near 3,000 and takes the worker down). No parser
   runs here, so no text can make the check itself fail with anything but a QueryError.
2. Only `Store.query` is ever called, so SPARQL Update and LOAD have no path to the store;
   `is_update` only chooses the message of the refusal.
3. `block_network` installs a seccomp filter in the worker process, after the store is loaded,
   so that it cannot create an internet socket at all (pyoxigraph 0.5 has a built-in HTTP client
   for SERVICE and offers no way to switch it off). It is left out only when the allowlist is not
   empty, since allowlisted SERVICE calls need the network.
"""

from __future__ import annotations

import ctypes
import platform
import struct
from collections.abc import Mapping

from fentanyl_kg.errors import QueryError
from fentanyl_kg.query.lexer import NAME, Token, expand_escapes, resolve, tokens

READ_ONLY = ("This endpoint is read-only: SPARQL Update (INSERT, DELETE, LOAD, CLEAR, DROP, "
             "CREATE, ADD, MOVE, COPY) is not accepted.")
UPDATE_KEYWORDS = frozenset({"insert", "delete", "load", "clear", "drop", "create", "add", "move",
                             "copy", "with"})
MAX_NESTING = 500  # brackets; pyoxigraph 0.5 parses 2,000 but crashes near 3,000


def may_use_service(text: str) -> bool:
    """False only when the query cannot contain the SERVICE keyword in any spelling."""
    if "\\u" in text or "\\U" in text:
        text = expand_escapes(text)
    return "service" in text.casefold()


def check_service(text: str, allowlist: frozenset[str], prefixes: Mapping[str, str],
                  base_iri: str | None = None) -> None:
    """Raise QueryError unless every SERVICE in the query calls an allowlisted endpoint and
    the query is nested at most MAX_NESTING brackets deep."""
    declared = dict(prefixes)
    base = base_iri
    toks = list(tokens(expand_escapes(text) if "\\u" in text or "\\U" in text else text))
    depth = 0
    for i, tok in enumerate(toks):
        if tok.kind == "open":
            depth += 1
            if depth > MAX_NESTING:
                raise QueryError(f"The query is nested more than {MAX_NESTING} brackets deep; "
                                 "this endpoint does not run it.")
        elif tok.kind == "close":
            depth = max(0, depth - 1)
        elif tok.kind != NAME or _after(toks, i, "@"):
            continue
        word = tok.text.casefold()
        if word == "base" and _kind(toks, i + 1) == "iri":
            base = resolve(toks[i + 1].text[1:-1], base)
        elif word == "prefix" and _kind(toks, i + 1) == NAME and \
                toks[i + 1].text.endswith(":") and _kind(toks, i + 2) == "iri":
            declared[toks[i + 1].text[:-1]] = resolve(toks[i + 2].text[1:-1], base) or ""
        elif word.startswith("service"):
            for endpoint in _endpoints(toks, i, declared, base):
                _allowed(endpoint, allowlist)


def _kind(toks: list[Token], i: int) -> str:
    return toks[i].kind if i < len(toks) else ""


def _after(toks: list[Token], i: int, char: str) -> bool:
    """Whether token i directly follows `char` (a language tag after @, say)."""
    return i > 0 and toks[i - 1].text == char and toks[i - 1].end == toks[i].start


def _endpoints(toks: list[Token], i: int, declared: Mapping[str, str],
               base: str | None) -> list[str | None]:
    """Every endpoint pyoxigraph might read after the name token i that starts with SERVICE.

    pyoxigraph's parser does not require a space after a keyword (SERVICESILENT<x:> is
    accepted), so every reading is checked: the rest of the token, with or without SILENT,
    or the next token. None stands for a variable endpoint."""
    rest = toks[i].text[len("service"):]
    nxt = toks[i + 1] if i + 1 < len(toks) else None
    texts: list[Token | str] = []
    if rest:
        texts.append(rest)
        if rest.casefold().startswith("silent"):
            texts.append(rest[len("silent"):] or nxt or "")
    elif nxt is not None:
        texts.append(nxt)
        if nxt.kind == NAME and nxt.text.casefold().startswith("silent"):
            after = toks[i + 2] if i + 2 < len(toks) else ""
            texts.append(nxt.text[len("silent"):] or after)
    out: list[str | None] = []
    for item in texts:
        text = item.text if isinstance(item, Token) else item
        if isinstance(item, Token) and item.kind == "var" or text[:1] in ("?", "$"):
            out.append(None)
        elif text.startswith("<") and text.endswith(">"):
            out.append(resolve(text[1:-1], base) or text[1:-1])
        elif ":" in text:
            prefix, local = text.split(":", 1)
            if prefix in declared:  # else pyoxigraph cannot read it as an endpoint either
                out.append(declared[prefix] + local.replace("\\", ""))
    return out


def _allowed(endpoint: str | None, allowlist: frozenset[str]) -> None:
    if endpoint is None:
        raise QueryError("SERVICE with a variable endpoint is not allowed on this server.", 403)
    if endpoint not in allowlist:
        allowed = ", ".join(sorted(allowlist)) or "none"
        raise QueryError(f"SERVICE <{endpoint}> is not allowed on this server "
                         f"(allowed SERVICE endpoints: {allowed}).", 403)


def is_update(text: str) -> bool:
    """Whether a text that is not a valid query looks like a SPARQL Update request: its first
    keyword after the prologue (PREFIX and BASE declarations) is an update operation."""
    skip = 0  # tokens left of a PREFIX or BASE declaration
    for tok in tokens(text):  # lazily: only the prologue and one keyword are read
        word = tok.text.casefold() if tok.kind == NAME else ""
        if skip:
            skip -= 1
        elif word in ("base", "prefix"):
            skip = 1 if word == "base" else 2
        else:
            return word in UPDATE_KEYWORDS
    return False


# -- seccomp: no internet sockets in the worker ------------------------------------------------
_ARCH = {"x86_64": (0xC000003E, 41, 425), "aarch64": (0xC00000B7, 198, 425)}
_X32_BIT = 0x40000000
_ALLOW, _EPERM = 0x7FFF0000, 0x00050000 | 1
_LD, _JEQ, _JGE, _RET = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, JMP|JEQ|K, JMP|JGE|K, RET|K


def _stmt(code: int, k: int) -> bytes:
    return struct.pack("HBBI", code, 0, 0, k)


def _jump(code: int, k: int, jt: int, jf: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def block_network() -> str | None:
    """Forbid this process to create any socket but a Unix one (and io_uring, which could).
    Returns None on success, or why the filter could not be installed."""
    arch = _ARCH.get(platform.machine())
    if platform.system() != "Linux" or arch is None:
        return f"seccomp filter not available on {platform.system()} {platform.machine()}"
    audit_arch, nr_socket, nr_io_uring = arch
    program = [
        _stmt(_LD, 4), _jump(_JEQ, audit_arch, 1, 0), _stmt(_RET, _EPERM),  # foreign ABI
        _stmt(_LD, 0), _jump(_JGE, _X32_BIT, 0, 1), _stmt(_RET, _EPERM),  # x32 ABI
        _jump(_JEQ, nr_io_uring, 0, 1), _stmt(_RET, _EPERM),
        _jump(_JEQ, nr_socket, 1, 0), _stmt(_RET, _ALLOW),
        _stmt(_LD, 16), _jump(_JEQ, 1, 0, 1), _stmt(_RET, _ALLOW),  # AF_UNIX
        _stmt(_RET, _EPERM),
    ]
    buf = ctypes.create_string_buffer(b"".join(program))
    prog = _SockFprog(len(program), ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_no_new_privs, pr_set_seccomp, seccomp_mode_filter = 38, 22, 2
    if libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) != 0 or \
            libc.prctl(pr_set_seccomp, seccomp_mode_filter, ctypes.byref(prog), 0, 0) != 0:
        return f"prctl failed with errno {ctypes.get_errno()}"
    return None
