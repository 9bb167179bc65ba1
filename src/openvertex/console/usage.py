"""The usage page's numbers: ledger rows bucketed over time, and latency percentiles."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from openvertex.store.base import UsageRecord

COUNTED = ("prompt_tokens", "completion_tokens", "reasoning_tokens")


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50, p90 and p99 by nearest rank; None where there is nothing to rank."""
    ranked = sorted(values)
    return {
        f"p{q}": ranked[max(0, math.ceil(q / 100 * len(ranked)) - 1)] if ranked else None
        for q in (50, 90, 99)
    }


def series(
    records: list[UsageRecord], *, since: float, until: float, buckets: int
) -> list[dict[str, Any]]:
    """Requests, errors and tokens per time bucket, every bucket present (zeros too)."""
    width = (until - since) / buckets
    rows = [
        {"at": since + i * width, "requests": 0, "errors": 0, **dict.fromkeys(COUNTED, 0)}
        for i in range(buckets)
    ]
    for record in records:
        row = rows[min(buckets - 1, max(0, int((record.at - since) / width)))]
        row["requests"] += 1
        row["errors"] += record.status >= 400
        for name in COUNTED:
            row[name] += getattr(record, name)
    return rows


def summary(
    records: list[UsageRecord], *, since: float, until: float, buckets: int = 24
) -> dict[str, Any]:
    """What the usage page draws, besides the totals table."""
    answered = [r for r in records if r.status < 400]
    return {
        "since": since,
        "until": until,
        "bucket_s": (until - since) / buckets,
        "series": series(records, since=since, until=until, buckets=buckets),
        "latency_ms": percentiles([r.latency_ms for r in answered]),
        "ttft_ms": percentiles([r.ttft_ms for r in answered if r.ttft_ms is not None]),
        "by_model": dict(Counter(r.model for r in records).most_common()),
        "by_project": dict(Counter(r.project for r in records).most_common()),
    }
