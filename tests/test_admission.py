"""The admission queue in process: slots per choice, order, refusal when full, cancellation."""

from __future__ import annotations

import asyncio

import pytest

from openvertex.errors import ResourceExhausted, Unavailable
from openvertex.record import RequestRecord
from openvertex.serving.admission import Admission
from openvertex.serving.draining import Drain
from openvertex.telemetry import Metrics


def _record() -> RequestRecord:
    return RequestRecord("req_test", "POST", "/v1/chat/completions")


def _admission(slots: int = 2, queue: int = 2) -> tuple[Admission, Metrics, Drain]:
    metrics, drain = Metrics(), Drain(grace_s=30)
    return Admission(slots, queue, metrics, drain), metrics, drain


def _gauge(metrics: Metrics, name: str) -> float:
    return metrics.registry.get_sample_value(f"openvertex_{name}") or 0.0


async def test_slots_are_taken_per_choice_and_given_back_in_order() -> None:
    admission, metrics, _ = _admission(slots=3)
    first, second, third = _record(), _record(), _record()
    await admission.enter(first, choices=2)
    waiting = asyncio.ensure_future(admission.enter(second, choices=2))
    later = asyncio.ensure_future(admission.enter(third, choices=1))
    await asyncio.sleep(0)
    # One slot is free, but the request ahead needs two: the one behind waits its turn.
    assert not waiting.done() and not later.done()
    assert _gauge(metrics, "active_slots") == 2 and _gauge(metrics, "queue_depth") == 2
    first.end()
    await asyncio.wait_for(asyncio.gather(waiting, later), 1)
    assert _gauge(metrics, "active_slots") == 3 and _gauge(metrics, "queue_depth") == 0
    second.end()
    third.end()
    assert _gauge(metrics, "active_slots") == 0


async def test_a_full_queue_is_refused_at_once_with_retry_after() -> None:
    admission, metrics, _ = _admission(slots=1, queue=1)
    holder = _record()
    await admission.enter(holder)
    queued = asyncio.ensure_future(admission.enter(_record()))
    await asyncio.sleep(0)
    with pytest.raises(ResourceExhausted) as refused:
        await admission.enter(_record())
    assert refused.value.retry_after >= 1 and "capacity" in refused.value.message
    assert (
        metrics.registry.get_sample_value("openvertex_rejected_total", {"reason": "queue_full"})
        == 1
    )
    holder.end()
    await asyncio.wait_for(queued, 1)


async def test_a_client_that_leaves_the_queue_does_not_keep_its_place() -> None:
    admission, metrics, _ = _admission(slots=2, queue=3)
    holder = _record()
    await admission.enter(holder, choices=2)
    big = asyncio.ensure_future(admission.enter(_record(), choices=2))
    small = asyncio.ensure_future(admission.enter(_record(), choices=1))
    await asyncio.sleep(0)
    big.cancel()
    await asyncio.sleep(0)
    assert _gauge(metrics, "queue_depth") == 1
    holder.end()
    await asyncio.wait_for(small, 1)
    assert _gauge(metrics, "active_slots") == 1


async def test_no_new_work_once_draining() -> None:
    admission, _, drain = _admission()
    drain.begin()
    with pytest.raises(Unavailable):
        await admission.enter(_record())
