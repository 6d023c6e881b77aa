"""Custom JSON over socket.io without losing the turn.

Rasa 3.6's socket.io output sends a custom JSON message as the keyword arguments of
``emit`` (``sio.emit(event, **json_message)``), which fits only messages shaped as emit's
own arguments (``data``, ``room``…). Our actions attach ``{"verdict": …, "article": …}`` for
the web app; over socket.io that raised ``TypeError`` after the text had gone out, and Rasa
then did not save the turn: the conversation forgot it (a guide chosen next was "nicht mehr
aktuell"). Seen with rasa-webchat.

Installed: a message in emit's shape is sent as before; any other is not sent on socket.io
(it is metadata for the web app, which talks REST; third-party widgets ignore it).

Installed by ``bot/channels.py``, which Rasa imports at start (credentials.yml names it).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.channels.socketio import SocketIOOutput

log = logging.getLogger(__name__)

EMIT_KEYWORDS = frozenset({"data", "room", "to", "namespace", "skip_sid", "callback"})


async def send_custom_json(
    self: SocketIOOutput, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
) -> None:
    if "data" not in json_message or not set(json_message) <= EMIT_KEYWORDS:
        log.debug("custom JSON for the web app not sent over socket.io: %s", sorted(json_message))
        return
    await self.sio.emit(self.bot_message_evt, **{"room": recipient_id, **json_message})


def install() -> None:
    SocketIOOutput.send_custom_json = send_custom_json  # type: ignore[method-assign]
