"""A socket.io client like the third-party Rasa web widgets, run with the Rasa environment's
Python (it has python-socketio): ``python socketio_client.py URL SESSION MESSAGE...``.

Prints one JSON line per message sent: the bot's utterances that arrived within the wait.
"""

import asyncio
import json
import sys

import socketio


async def main(url: str, session_id: str, messages: list) -> None:
    client = socketio.AsyncClient()
    received: asyncio.Queue = asyncio.Queue()
    confirmed = asyncio.Event()

    @client.on("bot_uttered")
    async def on_bot(data):
        await received.put(data)

    @client.on("session_confirm")
    async def on_session(data):
        confirmed.set()

    await client.connect(url, socketio_path="/socket.io", transports=["polling"])
    await client.emit("session_request", {"session_id": session_id})
    await asyncio.wait_for(confirmed.wait(), 10)
    for message in messages:
        await client.emit("user_uttered", {"message": message, "session_id": session_id})
        replies = []
        try:
            replies.append(await asyncio.wait_for(received.get(), 20 if message.strip() else 3))
            while True:
                replies.append(await asyncio.wait_for(received.get(), 1.5))
        except asyncio.TimeoutError:  # noqa: UP041 (runs on Python 3.10, where they differ)
            pass
        print(json.dumps(replies), flush=True)
    await client.disconnect()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
