"""What /cite shows: the triples matching a pattern, each with its claims or derivation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pyoxigraph as ox

from fentanyl_kg.errors import QueryError
from fentanyl_kg.namespaces import CLAIM
from fentanyl_kg.web import describe
from fentanyl_kg.web.cite import TripleSupport, parse_pattern
from fentanyl_kg.web.derive import Derivation
from fentanyl_kg.web.terms import parse_term


def cite_page(ctx: describe.Context, args: Mapping[str, str], page: int,
              link: Callable[[int], str]) -> dict[str, Any]:
    """/cite?s=&p=&o= (any may be empty) or /cite?claim=<claim IRI or claim:hex>."""
    pattern = {k: (args.get(k) or "").strip() for k in ("s", "p", "o", "claim")}
    if pattern["claim"]:
        text = pattern["claim"].strip("<>")
        if text.startswith("claim:"):
            text = str(CLAIM) + text[len("claim:"):]
        node = parse_term(f"<{text}>")
        data = describe.claim(ctx, node) if isinstance(node, ox.NamedNode) else None
        if data is None:
            raise QueryError(f"<{text}> is not a claim of this graph", 404)
        return {"kind": "cite", "label": "Claim", "pattern": pattern, "claim": data}
    matches = ctx.citer.match(*parse_pattern(ctx.store, pattern["s"], pattern["p"],
                                             pattern["o"]))
    results = describe.paged(matches, page, ctx.page_size, link)
    results["items"] = [_support(ctx, ts) for ts in results["items"]]
    return {"kind": "cite", "label": "Citations", "pattern": pattern, "results": results}


def _support(ctx: describe.Context, ts: TripleSupport) -> dict[str, Any]:
    ctx.citer.explain(ts)
    s, p, o = ts.triple
    return {"s": ctx.term(s), "p": ctx.term(p), "o": ctx.term(o), "inferred": ts.inferred,
            "claims": ctx.claims(ts.claims),
            "derived_from": ctx.claims(ts.all_claims()) if ts.inferred else [],
            "derivations": [derivation(ctx, d) for d in ts.derivations],
            "unexplained": ts.inferred and not ts.derivations}


def derivation(ctx: describe.Context, d: Derivation) -> dict[str, Any]:
    """A derivation tree for display: rendered terms and full claim records."""
    return {"rule": d.rule, "because": d.because, "premises": [
        {"s": ctx.term(p.triple[0]), "p": ctx.term(p.triple[1]), "o": ctx.term(p.triple[2]),
         "claims": ctx.claims(p.claims),
         "derivation": derivation(ctx, p.derivation) if p.derivation else None}
        for p in d.premises]}
