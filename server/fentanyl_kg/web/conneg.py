"""Content negotiation shared by /sparql and the pages: reading Accept and picking an offer.

Accept is parsed by werkzeug (RFC 9110, 12.5.1). A range with a malformed q (`q=abc`, `q=2`) is
skipped, as werkzeug and other RFC 9110 readers do; a header with no usable range left is read
as no header (`*/*`), so a malformed q alone never causes a 406. Media-type parameters
(`;charset=utf-8`, `;profile=...`) do not stop a range from matching: every format we offer is
UTF-8 and every JSON-LD profile is answered with the same document.

An offer's quality is the q of the most specific range that names its media type, or else one
of its aliases (`application/x-turtle` for Turtle), or its type (`text/*`), or `*/*`. The
highest q wins; on a tie, a range naming the offer's own media type beats an alias, and then
the offer listed first wins. So `application/ld+json, application/json` gets JSON-LD on a page
whose plain JSON twin is also on offer, while `application/json` alone gets the plain JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

Entries = list[tuple[str, float]]  # (media range without parameters, q), as the client sent


class Offer(Protocol):
    """Something a response can be: its media type, and the media types that select it."""

    @property
    def media_type(self) -> str: ...

    @property
    def accepts(self) -> tuple[str, ...]: ...


OfferT = TypeVar("OfferT", bound=Offer)


def parse(accept: str | None) -> Entries:
    """The usable ranges of an Accept header; `*/*` when there is none."""
    entries = [(value.split(";")[0].strip().lower(), q)
               for value, q in parse_accept_header(accept or "", MIMEAccept)]
    return entries or [("*/*", 1.0)]


def media_q(entries: Entries, media: str) -> tuple[float, int]:
    """(q, specificity) of the most specific range matching `media`: 2 exact, 1 type/*, 0 */*;
    (0, -1) when none matches."""
    kind = media.split("/")[0]
    best: tuple[float, int] = (0.0, -1)
    for value, q in entries:
        rank = 2 if value == media else 1 if value == f"{kind}/*" else \
            0 if value in ("*/*", "*") else -1
        if rank > best[1]:
            best = (q, rank)
    return best


def quality(entries: Entries, offer: Offer) -> tuple[float, int]:
    """(q, rank) the client gives an offer: its own media type when named (q=0 refuses it,
    rank 3), else the best alias (rank 2 when named exactly, lower for wildcards)."""
    own = next((q for value, q in entries if value == offer.media_type), None)
    if own is not None:
        return own, 3
    return max(media_q(entries, m) for m in offer.accepts)


def best(entries: Entries, offers: Sequence[OfferT]) -> OfferT | None:
    """The acceptable offer with the highest (q, rank); on a tie, the first in `offers`."""
    scored = []
    for i, offer in enumerate(offers):
        q, rank = quality(entries, offer)
        if q > 0:
            scored.append((q, rank, -i, offer))
    return max(scored, key=lambda t: t[:3])[3] if scored else None
