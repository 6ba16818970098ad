"""What a stranger's query may not do: update the store, or reach out through SERVICE.

Three layers, used by the query workers (executor.py):
1. `check_service` reads the query with rdflib's SPARQL parser (which also expands \\u escapes)
   and refuses any SERVICE whose endpoint is not a constant IRI in the allowlist.
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
import re
import struct
from collections.abc import Iterator, Mapping
from typing import Any

from pyparsing import ParseBaseException, ParseResults
from rdflib import URIRef, Variable
from rdflib.plugins.sparql.parser import parseQuery, parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue

from fentanyl_kg.errors import QueryError

READ_ONLY = ("This endpoint is read-only: SPARQL Update (INSERT, DELETE, LOAD, CLEAR, DROP, "
             "CREATE, ADD, MOVE, COPY) is not accepted.")
_UPDATE_START = re.compile(
    r"^(?:\s+|\#[^\n]*(?:\n|$)|PREFIX\s*[^\s:]*:\s*<[^>]*>|BASE\s*<[^>]*>)*"
    r"(?:INSERT|DELETE|LOAD|CLEAR|DROP|CREATE|ADD|MOVE|COPY|WITH)\b", re.IGNORECASE)
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
MAX_UPDATE_PARSE = 100_000  # characters; longer texts are only matched by their first keyword


def _expand_escapes(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)


def may_use_service(text: str) -> bool:
    """False only when the query cannot contain the SERVICE keyword in any spelling."""
    if "\\u" in text or "\\U" in text:
        text = _expand_escapes(text)
    return "service" in text.casefold()


def check_service(text: str, allowlist: frozenset[str], prefixes: Mapping[str, str]) -> None:
    """Raise QueryError unless every SERVICE in the query calls an allowlisted endpoint."""
    if not may_use_service(text):
        return
    try:
        tree = parseQuery(text)
    except ParseBaseException as exc:
        raise QueryError("This query mentions SERVICE, and its SERVICE clauses could not be "
                      f"checked because the query could not be parsed: {exc}") from None
    declared = dict(prefixes)
    for decl in _nodes(tree, "PrefixDecl"):
        declared[str(decl.prefix or "")] = str(decl.iri)
    for node in _nodes(tree, "ServiceGraphPattern"):
        endpoint = _endpoint(node.term, declared)
        if endpoint is None:
            raise QueryError("SERVICE with a variable endpoint is not allowed on this server.", 403)
        if endpoint not in allowlist:
            allowed = ", ".join(sorted(allowlist)) or "none"
            raise QueryError(f"SERVICE <{endpoint}> is not allowed on this server "
                          f"(allowed SERVICE endpoints: {allowed}).", 403)


def _endpoint(term: Any, prefixes: Mapping[str, str]) -> str | None:
    if isinstance(term, Variable):
        return None
    if isinstance(term, URIRef):
        return str(term)
    if isinstance(term, CompValue) and term.name == "pname":
        return prefixes.get(str(term.prefix or ""), "_:undeclared:") + str(term.localname or "")
    return repr(term)


def _nodes(node: Any, name: str) -> Iterator[CompValue]:
    """Every CompValue called `name` in an rdflib parse tree, however deeply nested."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, CompValue):
            if item.name == name:
                yield item
            stack.extend(item.values())
        elif isinstance(item, ParseResults | list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())


def is_update(text: str) -> bool:
    """Whether a text that is not a valid query looks like a SPARQL Update request."""
    if _UPDATE_START.match(text):
        return True
    if len(text) > MAX_UPDATE_PARSE:
        return False
    try:
        parsed = parseUpdate(text)
    except ParseBaseException:
        return False
    return "request" in parsed  # an empty or comment-only text parses as an empty update


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
