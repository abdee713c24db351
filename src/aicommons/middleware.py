"""ASGI middleware: request body limit, Prometheus metrics, and security headers."""

from __future__ import annotations

import base64
import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds the limit of {limit} bytes")


class BodyLimitMiddleware:
    """Refuse bodies over ``limit`` bytes with 413, whether or not they declare a Content-Length."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _send_413(send, self.limit)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, limited_receive, send)


async def _send_413(send: Send, limit: int) -> None:
    import json

    body = json.dumps({"type": "https://aicommons.example/problems/content-too-large",
                       "title": "Content too large", "status": 413,
                       "detail": f"the request body exceeds the limit of {limit} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class Metrics:
    """The server's Prometheus metrics, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("aicommons_http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("aicommons_http_request_duration_seconds", "Time to answer a request",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))


class MetricsMiddleware:
    """Count and time requests by route template (not raw path, which would explode the label set)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - start)


class LedgerHeadersMiddleware:
    """Tell the client which ledger entries its (successful, committed) request recorded.

    ``AICommons-Ledger-Leaf`` lists the entries' leaf hashes (URL-safe base64); ``Link`` points at the
    lookup that returns each one's index and inclusion proof once the sequencer has integrated it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_leaves(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                leaves = scope.get("state", {}).get("ledger_leaves")
                if leaves:
                    encoded = [base64.urlsafe_b64encode(leaf).decode() for leaf in leaves]
                    links = ", ".join(f'</api/v1/ledger/lookup?leaf_hash={e}>; rel="ledger-entry"'
                                      for e in encoded)
                    message["headers"] = [*message.get("headers", []),
                                          (b"aicommons-ledger-leaf", ", ".join(encoded).encode()),
                                          (b"link", links.encode())]
            await send(message)

        await self.app(scope, receive, with_leaves)


class SecurityHeadersMiddleware:
    """Headers every page should carry: no framing, no sniffing, a strict content security policy."""

    HEADERS = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
    ]
    CSP = (b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
           b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
    # The interactive API docs (served from our own copy of Swagger UI) start with an inline script.
    DOCS_CSP = (b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                b"script-src 'self' 'unsafe-inline'; frame-ancestors 'none'")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = self.DOCS_CSP if scope["path"] == "/docs" else self.CSP

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + self.HEADERS + [
                    (b"content-security-policy", csp)]
            await send(message)

        await self.app(scope, receive, with_headers)
