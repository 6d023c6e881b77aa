"""Run by tests/bot/test_nlu_thread.py under the Rasa environment (Python 3.10): prints one
JSON object of observations of bot/nlu_thread.py."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import nlu_thread
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor

SLOW = 0.3


def processor() -> MessageProcessor:
    """Rasa's own parse_message around a stand-in pipeline that takes SLOW seconds."""
    p = object.__new__(MessageProcessor)
    p.http_interpreter = None
    threads = []

    def parse_with_graph(message, tracker, only_output_properties=True):
        threads.append(threading.current_thread().name)
        time.sleep(SLOW)  # as the e5 engine does: the GIL is free meanwhile
        intent = {"name": "greet", "confidence": 1.0}
        return {"text": message.text, "intent": intent, "entities": []}

    p._parse_message_with_graph = parse_with_graph
    p._check_for_unseen_features = lambda parse_data: None
    p.threads = threads
    return p


async def observations() -> dict:
    nlu_thread.install()
    p = processor()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.monotonic()
    first, second = await asyncio.gather(
        p.parse_message(UserMessage("hallo", sender_id="a")),
        p.parse_message(UserMessage("guten tag", sender_id="b")),
    )
    took = time.monotonic() - started
    task.cancel()
    return {
        "texts": [first["text"], second["text"]],
        "intent": first["intent"]["name"],
        "threads": p.threads,
        "ticks": ticks,
        "took": took,
        "installed": MessageProcessor.parse_message is nlu_thread.parse_message,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(observations())))
