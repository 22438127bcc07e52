"""Admission control: the queue bound answers at once, the deadline drops the work, counts recover."""

from __future__ import annotations

import asyncio
import time

import pytest

from predictors.common.admission import Admission, Overloaded, RequestTimedOut


def test_beyond_the_queue_limit_is_refused_at_once():
    admission = Admission("m", max_queue=2, timeout_s=None)
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "done"

    async def main():
        first = asyncio.ensure_future(admission(slow()))
        second = asyncio.ensure_future(admission(slow()))
        await asyncio.sleep(0.01)
        started = time.perf_counter()
        with pytest.raises(Overloaded, match="max_queue 2"):
            await admission(slow())
        refused_in = time.perf_counter() - started
        release.set()
        results = await asyncio.gather(first, second)
        return results, refused_in, await admission(slow())  # room again once they finished

    results, refused_in, later = asyncio.run(main())
    assert results == ["done", "done"] and later == "done"
    assert refused_in < 0.01
    assert admission.pending == 0


def test_a_request_past_its_deadline_times_out_and_its_work_is_cancelled():
    admission = Admission("m", max_queue=4, timeout_s=0.05)
    cancelled = []

    async def never() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def main():
        started = time.perf_counter()
        with pytest.raises(RequestTimedOut, match="0.05 s"):
            await admission(never())
        return time.perf_counter() - started

    assert asyncio.run(main()) < 1
    assert cancelled == [True]
    assert admission.pending == 0


def test_the_works_own_timeout_error_is_not_mistaken_for_the_deadline():
    admission = Admission("m", max_queue=4, timeout_s=5)

    async def fails() -> None:
        raise TimeoutError("upstream")

    with pytest.raises(TimeoutError, match="upstream"):
        asyncio.run(admission(fails()))


def test_zero_timeout_means_no_deadline():
    admission = Admission("m", max_queue=1, timeout_s=0)

    async def quick() -> int:
        await asyncio.sleep(0.01)
        return 7

    assert asyncio.run(admission(quick())) == 7
    assert admission.timeout_s is None
