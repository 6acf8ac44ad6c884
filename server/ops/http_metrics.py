"""HTTP traffic metrics: requests by route and status, latency, requests in flight (pure ASGI middleware).

The ``handler`` label is the matched route's template (``/v1/chat/completions``),
so paths that match no route are not counted and no label takes a per-request
value. A streamed response is timed until its last byte. Probes and scrapes
(``/health``, SageMaker's ``/ping``, ``/metrics``) are not traffic and are not counted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Probes and scrapes: neither counted nor logged as traffic.
PROBE_PATHS = frozenset({"/health", "/ping", "/load", "/metrics"})
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


@dataclass(frozen=True)
class HTTPMetrics:
    requests: Counter
    latency: Histogram
    in_flight: Gauge
    uncounted: frozenset[str]

    @classmethod
    def create(cls, prefix: str, registry: CollectorRegistry, uncounted: frozenset[str]) -> HTTPMetrics:
        labels = ["handler", "method"]
        return cls(
            requests=Counter(
                f"{prefix}_http_requests", "HTTP requests by route, method and status.", [*labels, "status"],
                registry=registry,
            ),
            latency=Histogram(
                f"{prefix}_http_request_duration_seconds", "HTTP request duration, a streamed response to its "
                "last byte.", labels, buckets=LATENCY_BUCKETS, registry=registry,
            ),
            in_flight=Gauge(
                f"{prefix}_http_requests_in_flight", "HTTP requests being served.", labels, registry=registry,
                multiprocess_mode="livesum",
            ),
            uncounted=uncounted,
        )  # fmt: skip


class HTTPMetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: HTTPMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = _route_template(scope) if scope["type"] == "http" else None
        if handler is None or handler in self.metrics.uncounted:
            await self.app(scope, receive, send)
            return
        labels = (handler, scope["method"])
        status = 500  # unless the app starts a response

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.labels(*labels).inc()
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            self.metrics.in_flight.labels(*labels).dec()
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - started)
            self.metrics.requests.labels(*labels, str(status)).inc()


def _route_template(scope: Scope) -> str | None:
    """The path template of the route that will serve ``scope``, None when none matches fully."""
    for route in scope["app"].router.routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return getattr(route, "path", None)
    return None
