"""Prometheus metrics, one registry per app, fed from each request's record.

Labels are bounded: routes are templates (`/v1/projects/{project}/...`), not
paths, and unknown paths share one label. `/metrics` is not behind auth, so
tokens are counted per project (the unit quotas and bills are kept in) only when
the operator asks (`detail`, `--metrics-detail`); otherwise the project label is
left out and the counts are totals per model. The metric names are the same.
"""

from __future__ import annotations

import json

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from openvertex.record import RequestRecord

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_RATE = (1, 5, 10, 25, 50, 75, 100, 150, 200, 300, 500, 1000)


class Metrics:
    def __init__(self, *, detail: bool = False) -> None:
        self.detail = detail
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "openvertex_requests", "Requests answered.", ["route", "status", "model"], registry=r
        )
        self.latency = Histogram(
            "openvertex_request_seconds",
            "Time to the end of the answer.",
            ["route"],
            buckets=_LATENCY,
            registry=r,
        )
        self.first_token = Histogram(
            "openvertex_time_to_first_token_seconds",
            "Time to the first generated token.",
            ["model"],
            buckets=_LATENCY,
            registry=r,
        )
        self.decode_rate = Histogram(
            "openvertex_decode_tokens_per_second",
            "Generated tokens per second, per request.",
            ["model"],
            buckets=_RATE,
            registry=r,
        )
        self.tokens = Counter(
            "openvertex_tokens",
            "Tokens used, by project with --metrics-detail.",
            ["project", "model", "kind"] if detail else ["model", "kind"],
            registry=r,
        )
        self.slots = Gauge("openvertex_slots", "Requests that may generate at once.", registry=r)
        self.active_slots = Gauge(
            "openvertex_active_slots", "Requests holding a slot now.", registry=r
        )
        self.queue_depth = Gauge(
            "openvertex_queue_depth", "Requests waiting for a slot now.", registry=r
        )
        self.queue_wait = Histogram(
            "openvertex_queue_wait_seconds",
            "Time spent waiting for a slot.",
            buckets=_LATENCY,
            registry=r,
        )
        self.quota_store_errors = Counter(
            "openvertex_quota_store_errors",
            "Quota window reads or writes that failed (Redis unreachable): quotas failed open.",
            registry=r,
        )
        self.rejected = Counter(
            "openvertex_rejected",
            "Requests refused with 429, by reason.",
            ["reason"],
            registry=r,
        )

    def observe(self, record: RequestRecord) -> None:
        """Count one finished request."""
        model = record.model or ""
        self.requests.labels(record.route, str(record.outcome), model).inc()
        self.latency.labels(record.route).observe(record.seconds)
        if record.first_token is not None:
            self.first_token.labels(model).observe(record.first_token - record.started)
            decoding = (record.ended or record.first_token) - record.first_token
            if record.completion_tokens > 1 and decoding > 0:
                self.decode_rate.labels(model).observe((record.completion_tokens - 1) / decoding)
        if record.project is not None:
            for kind, count in (
                ("prompt", record.prompt_tokens),
                ("completion", record.completion_tokens),
                ("reasoning", record.reasoning_tokens),
            ):
                if count:
                    labels = (record.project, model, kind) if self.detail else (model, kind)
                    self.tokens.labels(*labels).inc(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def access_line(record: RequestRecord) -> str:
    """One JSON log line: enough to trace a request, never credentials or contents."""
    line: dict[str, object] = {
        "request_id": record.request_id,
        "method": record.method,
        "path": record.path,
        "status": record.outcome,
        "ms": round(record.seconds * 1000, 1),
    }
    if record.project is not None:
        line |= {
            "project": record.project,
            "model": record.model,
            "prompt_tokens": record.prompt_tokens,
            "completion_tokens": record.completion_tokens,
        }
    return json.dumps(line)
