"""Request parameters as the client wrote them: percent-decoded bytes that must be UTF-8."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from fentanyl_kg.errors import QueryError


def check_utf8(raw: bytes, where: str) -> None:
    """400 when a parameter is not UTF-8 once percent-decoded: werkzeug would put U+FFFD in its
    place and run a query the client never wrote."""
    for part in raw.split(b"&"):
        name, _, value = part.partition(b"=")
        for piece in (name, value):
            try:
                unquote_to_bytes(piece.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError as exc:
                label = unquote_to_bytes(name).decode("utf-8", "replace")
                raise QueryError(f"The {where} is not valid UTF-8 once percent-decoded "
                                 f"(parameter {label!r}, byte {exc.start}: {exc.reason}); "
                                 "percent-encode the UTF-8 bytes of each character.",
                                 400) from None
