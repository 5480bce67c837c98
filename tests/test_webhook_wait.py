"""``?wait=true`` waits for the execution with ``webhook.finished_within``: done within the
limit, still running after it, and a sender that hangs up (the wait cancelled) never cancels
the execution."""

from __future__ import annotations

import asyncio

import pytest

from router_core.webhook import finished_within


async def test_a_task_that_ends_in_time_is_finished_with_its_result() -> None:
    async def work() -> str:
        await asyncio.sleep(0)
        return "report"

    task = asyncio.create_task(work())
    assert await finished_within(task, 5.0) is True
    assert task.result() == "report"
    done = asyncio.create_task(work())
    await done
    assert await finished_within(done, 5.0) is True  # finished before the wait began


async def test_a_failed_task_is_finished_and_its_exception_stays_for_the_caller() -> None:
    async def work() -> None:
        raise RuntimeError("broker down")

    task = asyncio.create_task(work())
    assert await finished_within(task, 5.0) is True
    with pytest.raises(RuntimeError, match="broker down"):
        task.result()


async def test_past_the_limit_the_task_keeps_running() -> None:
    release = asyncio.Event()

    async def work() -> str:
        await release.wait()
        return "late"

    task = asyncio.create_task(work())
    assert await finished_within(task, 0.01) is False
    assert not task.done()
    release.set()
    assert await task == "late"


async def test_cancelling_the_wait_never_cancels_the_task() -> None:
    release = asyncio.Event()

    async def work() -> str:
        await release.wait()
        return "placed"

    task = asyncio.create_task(work())
    waiting = asyncio.create_task(finished_within(task, 5.0))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert not task.cancelled() and not task.done()
    release.set()
    assert await task == "placed"
