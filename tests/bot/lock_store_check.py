"""Run by tests/bot/test_lock_store.py under the Rasa environment (Python 3.10):
``python lock_store_check.py FOLDER`` prints one JSON object of observations."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import sys
import time

from lock_store import FileLockStore
from rasa.core.lock_store import LockError

HOLD = 0.2


def hold_in_other_process(folder: str, conversation: str, started) -> None:
    async def main() -> None:
        async with FileLockStore(folder=folder).lock(conversation):
            started.set()
            await asyncio.sleep(HOLD * 2)

    asyncio.run(main())


async def observations(folder: str) -> dict:
    store = FileLockStore(folder=folder)
    order: list[int] = []
    inside = 0
    overlap = False

    async def turn(n: int) -> None:
        nonlocal inside, overlap
        async with store.lock("same"):
            inside += 1
            overlap |= inside > 1
            order.append(n)
            await asyncio.sleep(0.02)
            inside -= 1

    tasks = []
    for n in range(5):  # arrive one after another, all wait behind the first
        tasks.append(asyncio.create_task(turn(n)))
        await asyncio.sleep(0.001)
    await asyncio.gather(*tasks)

    # Another process holds "shared": this process waits until it lets go.
    started = multiprocessing.Event()
    other = multiprocessing.Process(target=hold_in_other_process, args=(folder, "shared", started))
    other.start()
    started.wait(10)
    began = time.monotonic()
    async with store.lock("shared"):
        waited = time.monotonic() - began
    # Meanwhile a different conversation (another stripe) is not held up.
    other2 = multiprocessing.Process(target=hold_in_other_process, args=(folder, "shared", started))
    started.clear()
    other2.start()
    started.wait(10)
    stripe_free = next(
        c for c in (f"c{i}" for i in range(100)) if store.path(c) != store.path("shared")
    )
    began = time.monotonic()
    async with store.lock(stripe_free):
        free_wait = time.monotonic() - began
    try:
        async with store.lock("shared", lock_lifetime=0.05):
            timed_out = False
    except LockError:
        timed_out = True
    other.join()
    other2.join()
    return {
        "order": order,
        "overlap": overlap,
        "waited": waited,
        "free_wait": free_wait,
        "timed_out": timed_out,
        "forgotten": not store._local and not store._waiting,
    }


if __name__ == "__main__":
    multiprocessing.set_start_method("spawn")
    print(json.dumps(asyncio.run(observations(sys.argv[1]))))
