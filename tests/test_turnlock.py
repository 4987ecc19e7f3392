"""TurnLock: FIFO, no overtaking, and cancellation never loses or leaks the lock."""

from __future__ import annotations

import asyncio

from actorkit._runtime.turnlock import TurnLock


async def test_free_lock_is_taken_without_waiting_and_held_until_released() -> None:
    lock = TurnLock()
    assert lock.try_acquire() and lock.locked
    assert not lock.try_acquire()
    lock.release()
    assert not lock.locked


async def test_waiters_get_the_lock_in_arrival_order_and_newcomers_queue() -> None:
    lock = TurnLock()
    await lock.acquire()
    order: list[int] = []

    async def worker(i: int) -> None:
        await lock.acquire()
        order.append(i)
        await asyncio.sleep(0)
        lock.release()

    tasks = [asyncio.ensure_future(worker(i)) for i in range(5)]
    await asyncio.sleep(0)
    lock.release()
    assert not lock.try_acquire()  # handed to the first waiter, not to a newcomer
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]
    assert not lock.locked


async def test_cancelled_waiter_is_skipped() -> None:
    lock = TurnLock()
    await lock.acquire()
    first = asyncio.ensure_future(lock.acquire())
    second = asyncio.ensure_future(lock.acquire())
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    lock.release()
    await second
    assert lock.locked
    lock.release()
    assert not lock.locked


async def test_waiter_cancelled_after_being_handed_the_lock_passes_it_on() -> None:
    lock = TurnLock()
    await lock.acquire()
    first = asyncio.ensure_future(lock.acquire())
    second = asyncio.ensure_future(lock.acquire())
    await asyncio.sleep(0)
    lock.release()  # hands the lock to `first` ...
    first.cancel()  # ... which is cancelled before it runs
    await asyncio.gather(first, return_exceptions=True)
    await second  # so `second` gets it
    lock.release()
    assert not lock.locked
