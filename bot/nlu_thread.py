"""Understand messages on a thread of their own, beside Rasa's event loop.

Rasa 3.6 runs the NLU pipeline inside its event loop: while one message is classified, no
other conversation moves. Most of that time is the e5 featurizer's C engine (ctypes releases
the GIL), which could run on the second core meanwhile. Measured under load, NLU was half of
the event loop's busy time and the loop saturated one core near 20 messages/s.

So ``MessageProcessor.parse_message`` is run on one dedicated thread: the event loop keeps
reading and writing trackers, calling the action server and answering other conversations.
One thread, so messages are understood one at a time in arrival order, as before, and no
component is ever called from two threads at once. Rasa's own method does the work; it only
awaits when an NLU server is configured over HTTP (``http_interpreter``), which stays on the
loop.

Installed by ``bot/channels.py``, which Rasa imports at start (credentials.yml names it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rasa.core.processor import MessageProcessor

_original = MessageProcessor.parse_message
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlu")


def _finish(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never suspends (no event loop needed) to its result."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("parse_message suspended; it cannot run off the event loop")


async def parse_message(
    self: MessageProcessor,
    message: Any,
    tracker: Any = None,
    only_output_properties: bool = True,
) -> dict[str, Any]:
    if self.http_interpreter:
        return await _original(self, message, tracker, only_output_properties)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        _executor, lambda: _finish(_original(self, message, tracker, only_output_properties))
    )


def install() -> None:
    MessageProcessor.parse_message = parse_message  # type: ignore[method-assign]
