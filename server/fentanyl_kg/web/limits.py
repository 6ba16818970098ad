"""Per-client limits: a request budget (token bucket) and a cap on requests in progress.

As on the Wikidata Query Service, a client past its budget gets 429 Too Many Requests with
Retry-After, in the one error shape, and other clients are not affected. A client is its
REMOTE_ADDR; when that address is one of TRUSTED_PROXIES, the client is the nearest address in
X-Forwarded-For that is not a trusted proxy (the header is otherwise ignored, since anyone can
send it). /healthz and the static assets are exempt. Each limit is off when its setting is 0.

The bucket holds RATE_LIMIT tokens and refills at RATE_LIMIT / RATE_WINDOW tokens a second;
each request takes one. The defaults (600 a minute, 6 at once, the number of connections a
browser opens to one host) are well beyond what a person using the pages does.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from flask import Flask, g, request
from werkzeug.exceptions import TooManyRequests

from fentanyl_kg.web.config import Settings

EXEMPT = ("/healthz", "/assets/")
MAX_TRACKED = 10_000  # clients remembered before idle ones (full bucket, nothing running) go


@dataclass
class Bucket:
    tokens: float
    stamp: float  # time.monotonic() of the last refill
    running: int = 0


class Limiter:
    """The per-client budgets of one app, safe to use from waitress's threads."""

    def __init__(self, settings: Settings) -> None:
        self.rate_limit = settings.RATE_LIMIT
        self.refill = settings.RATE_LIMIT / settings.RATE_WINDOW  # tokens per second
        self.concurrency = settings.CLIENT_CONCURRENCY
        self.proxies = frozenset(settings.TRUSTED_PROXIES)
        self.buckets: dict[str, Bucket] = {}
        self.lock = threading.Lock()

    def client(self, remote: str | None, forwarded: str | None) -> str:
        """Who is asking: REMOTE_ADDR, or what a trusted proxy says it forwarded."""
        addr = remote or "-"
        if addr in self.proxies and forwarded:
            for hop in reversed([h.strip() for h in forwarded.split(",")]):
                addr = hop
                if hop not in self.proxies:
                    break
        return addr

    def enter(self, client: str) -> None:
        """Take one request from the client's budget, or raise 429 with Retry-After."""
        now = time.monotonic()
        with self.lock:
            bucket = self.buckets.get(client)
            if bucket is None:
                if len(self.buckets) >= MAX_TRACKED:
                    self._forget_idle(now)
                bucket = self.buckets[client] = Bucket(float(self.rate_limit), now)
            if self.rate_limit:
                bucket.tokens = min(float(self.rate_limit),
                                    bucket.tokens + (now - bucket.stamp) * self.refill)
                bucket.stamp = now
                if bucket.tokens < 1:
                    wait = math.ceil((1 - bucket.tokens) / self.refill)
                    raise TooManyRequests(
                        f"Too many requests from {client}: the limit is {self.rate_limit} "
                        f"per {self.rate_limit / self.refill:g} s; try again in {wait} s.",
                        retry_after=wait)
            if self.concurrency and bucket.running >= self.concurrency:
                raise TooManyRequests(
                    f"Too many requests in progress from {client}: at most "
                    f"{self.concurrency} at once; wait for one to finish.", retry_after=1)
            bucket.tokens -= 1 if self.rate_limit else 0
            bucket.running += 1

    def leave(self, client: str) -> None:
        """A request of the client has finished."""
        with self.lock:
            bucket = self.buckets.get(client)
            if bucket is not None and bucket.running:
                bucket.running -= 1

    def _forget_idle(self, now: float) -> None:
        for name, b in list(self.buckets.items()):
            full = b.tokens + (now - b.stamp) * self.refill >= self.rate_limit
            if not b.running and full:
                del self.buckets[name]


def install(app: Flask, settings: Settings) -> None:
    """Check every request against the client's budget (a no-op when both limits are 0)."""
    if not settings.RATE_LIMIT and not settings.CLIENT_CONCURRENCY:
        return
    limiter = Limiter(settings)

    @app.before_request
    def _enter() -> None:
        if request.path.startswith(EXEMPT) or request.method == "OPTIONS":
            return
        client = limiter.client(request.remote_addr, request.headers.get("X-Forwarded-For"))
        limiter.enter(client)
        g.limited_client = client

    @app.teardown_request
    def _leave(exc: BaseException | None) -> None:
        client = g.pop("limited_client", None)
        if client is not None:
            limiter.leave(client)
