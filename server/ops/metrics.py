"""Prometheus metrics: vLLM's engine metrics (``vllm:``) and the server's own (``thinkserve_``) on one ``/metrics``.

vLLM's ``AsyncLLM`` registers its metrics in the process's default registry as
it serves. The server's own live in a registry per app (so that tests can build
many apps); HTTP traffic is measured by :mod:`server.ops.http_metrics`. Labels never
take per-request values: ``handler`` is a route template, ``status`` an HTTP
status, ``reason`` one of a fixed set, ``model`` a served name.

Several API processes: start them with ``PROMETHEUS_MULTIPROC_DIR`` set (a fresh
directory) and ``/metrics`` merges every process's numbers, prometheus-client's
multiprocess mode, as vLLM's own server does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.concurrency import run_in_threadpool

from server.ops.http_metrics import PROBE_PATHS, HTTPMetrics, HTTPMetricsMiddleware
from server.protocol.common import BudgetReport
from server.protocol.errors import APIError
from server.thinking.budget import Budget

PREFIX = "thinkserve"
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
TOKEN_BUCKETS = (0, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)
SHARE_BUCKETS = (0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)
REASONS = {  # APIError code -> reason label; otherwise the status decides
    "context_length_exceeded": "context_length_exceeded",
    "model_not_found": "model_not_found",
    "conflicting_parameters": "conflicting_parameters",
    "server_overloaded": "overloaded",
    "draining": "draining",
}
STATUS_REASONS = {400: "invalid_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}
STATUS_REASONS |= {413: "too_large", 422: "invalid_request", 429: "overloaded", 500: "internal_error"}
STATUS_REASONS |= {503: "engine_unavailable"}


ALL_REASONS = tuple(sorted({*REASONS.values(), *STATUS_REASONS.values(), "other"}))


def rejection_reason(error: APIError) -> str:
    return REASONS.get(error.code or "") or STATUS_REASONS.get(int(error.status), "other")


@dataclass(frozen=True)
class ServerMetrics:
    registry: CollectorRegistry
    http: HTTPMetrics
    time_to_first_token: Histogram
    rejected: Counter
    disconnected: Counter
    budget_requests: Counter
    thinking_tokens: Histogram
    waits: Counter
    forced_ends: Counter
    max_budget_choices: Counter
    budget_share: Histogram
    loops_broken: Counter
    guarded_choices: Counter

    @classmethod
    def create(cls) -> ServerMetrics:
        """The metrics, with every rejection reason at 0 (a dashboard shows 0, not "No data")."""
        r = CollectorRegistry()
        model = ["model"]
        metrics = cls(
            registry=r,
            http=HTTPMetrics.create(PREFIX, r, PROBE_PATHS),
            time_to_first_token=Histogram(
                f"{PREFIX}_time_to_first_token_seconds", "Streamed requests: arrival to the first token sent, "
                "as the client sees it.", model, buckets=TTFT_BUCKETS, registry=r,
            ),
            rejected=Counter(f"{PREFIX}_rejected_requests", "Requests answered with an error, by reason.",
                             ["reason"], registry=r),
            disconnected=Counter(f"{PREFIX}_client_disconnects", "Requests whose client left before the answer "
                                 "(their engine requests were aborted).", registry=r),
            budget_requests=Counter(f"{PREFIX}_budget_requests", "Requests with a thinking budget.", model,
                                    registry=r),
            thinking_tokens=Histogram(f"{PREFIX}_thinking_tokens", "Thinking (reasoning) tokens per choice, "
                                      "budgeted or not.", model, buckets=TOKEN_BUCKETS, registry=r),
            waits=Counter(f"{PREFIX}_budget_waits_inserted", "Wait strings the budget put in place of an "
                          "attempt to end the thinking.", model, registry=r),
            forced_ends=Counter(f"{PREFIX}_budget_forced_ends", "Choices whose thinking the maximum ended "
                                "(end delimiter and answer prefix forced).", model, registry=r),
            max_budget_choices=Counter(f"{PREFIX}_budget_max_choices", "Choices with a maximum thinking budget "
                                       "(forced_ends / this = how often the maximum bites).", model, registry=r),
            budget_share=Histogram(f"{PREFIX}_budget_share_used", "Thinking tokens as a share of the maximum "
                                   "budget, per choice with a maximum above 0.", model, buckets=SHARE_BUCKETS,
                                   registry=r),
            loops_broken=Counter(f"{PREFIX}_budget_loops_broken", "Choices whose thinking looped: the "
                                 "loop guard stopped forcing.", model, registry=r),
            guarded_choices=Counter(f"{PREFIX}_budget_guarded_choices", "Choices with the loop guard on "
                                    "(loops_broken / this = how often the thinking loops).", model, registry=r),
        )  # fmt: skip
        for reason in ALL_REASONS:
            metrics.rejected.labels(reason)
        return metrics

    def serve_models(self, names: Iterable[str]) -> None:
        """Every per-model series at 0 for each served name, once the engine says which those are."""
        per_model = (self.time_to_first_token, self.budget_requests, self.thinking_tokens, self.waits,
                     self.forced_ends, self.max_budget_choices, self.budget_share, self.loops_broken,
                     self.guarded_choices)  # fmt: skip
        for name in names:
            for metric in per_model:
                metric.labels(name)

    def instrument(self, app: FastAPI) -> None:
        """Count HTTP traffic by route template and status, and serve ``GET /metrics``."""
        app.add_middleware(HTTPMetricsMiddleware, metrics=self.http)
        app.add_api_route("/metrics", self.endpoint, methods=["GET"], include_in_schema=False)

    async def endpoint(self, _: Request) -> Response:
        return Response(await run_in_threadpool(self.exposition), media_type=CONTENT_TYPE_LATEST)

    def exposition(self) -> bytes:
        """Prometheus text: this process's vLLM and server metrics, or every process's in multiprocess mode."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            merged = CollectorRegistry()
            MultiProcessCollector(merged)
            return generate_latest(merged)
        return generate_latest(REGISTRY) + generate_latest(self.registry)

    def record_rejection(self, error: APIError) -> None:
        self.rejected.labels(rejection_reason(error)).inc()

    def record_first_token(self, model: str, seconds: float) -> None:
        self.time_to_first_token.labels(model).observe(seconds)

    def record_budget_request(self, model: str) -> None:
        self.budget_requests.labels(model).inc()

    def record_choice(
        self, model: str, reasoning_tokens: int, budget: Budget | None, report: BudgetReport | None
    ) -> None:
        """A finished choice: how long it thought and, when budgeted, what the budget did."""
        self.thinking_tokens.labels(model).observe(reasoning_tokens)
        if budget is None or report is None:
            return
        self.waits.labels(model).inc(report.waits)
        self.forced_ends.labels(model).inc(int(report.forced_end))
        if budget.loop_guard:
            self.guarded_choices.labels(model).inc()
            self.loops_broken.labels(model).inc(report.loops_broken or 0)
        if budget.max_tokens is not None:
            self.max_budget_choices.labels(model).inc()
            if budget.max_tokens > 0:
                self.budget_share.labels(model).observe(min(report.thinking_tokens / budget.max_tokens, 1.0))
