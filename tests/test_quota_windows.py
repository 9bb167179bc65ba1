"""Quota windows in process, on a hand-moved clock: when they refuse, and for how long."""

from __future__ import annotations

import pytest

from openvertex.errors import ResourceExhausted
from openvertex.serving.quotas import Quota, Quotas


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _quotas(clock: Clock, rpm: int = 0, tpm: int = 0) -> Quotas:
    return Quotas(lambda project: Quota(rpm=rpm, tpm=tpm), window_s=60, clock=clock)


async def test_rpm_refuses_until_the_oldest_request_leaves_the_minute() -> None:
    clock = Clock()
    quotas = _quotas(clock, rpm=2)
    await quotas.admit("p")
    clock.now += 20
    await quotas.admit("p")
    with pytest.raises(ResourceExhausted) as refused:
        await quotas.admit("p")
    assert refused.value.retry_after == 40  # the first request leaves the window at +60
    assert refused.value.reason == "RATE_LIMIT_EXCEEDED"
    assert "2 requests per minute" in refused.value.message
    await quotas.admit("other")  # projects are counted apart
    clock.now += 40
    await quotas.admit("p")


async def test_tpm_refuses_while_the_window_holds_the_quota() -> None:
    clock = Clock()
    quotas = _quotas(clock, tpm=100)
    await quotas.admit("p")
    quotas.charge("p", 70)
    clock.now += 30
    await quotas.admit("p")  # 70 < 100: still room
    quotas.charge("p", 50)
    with pytest.raises(ResourceExhausted) as refused:
        await quotas.admit("p")
    # Once the first charge (70) leaves at +60, 50 remain: under the quota again.
    assert refused.value.retry_after == 30
    clock.now += 30
    await quotas.admit("p")


async def test_zero_means_no_limit() -> None:
    quotas = _quotas(Clock())
    for _ in range(1000):
        await quotas.admit("p")
        quotas.charge("p", 10_000)


async def test_a_lowered_rpm_waits_for_enough_requests_to_leave() -> None:
    clock = Clock()
    quotas = _quotas(clock, rpm=3)
    for _ in range(3):
        await quotas.admit("p")
        clock.now += 10
    quotas._quota_for = lambda project: Quota(rpm=1, tpm=0)  # as `set-quota` lowers it
    with pytest.raises(ResourceExhausted) as refused:
        await quotas.admit("p")
    assert refused.value.retry_after == 50  # when the newest of the three leaves, at +80
    clock.now += 50
    await quotas.admit("p")


async def test_a_refund_gives_back_the_request() -> None:
    quotas = _quotas(Clock(), rpm=1)
    await quotas.admit("p")
    quotas.refund("p")  # e.g. the queue was full after all
    await quotas.admit("p")
