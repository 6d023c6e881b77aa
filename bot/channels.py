"""Rasa input channels that ignore empty messages.

Chat widgets send an empty user message when they open (seen with rasa-webchat); Rasa would
classify ``""`` as some intent and act on it. An empty or whitespace-only message must not
trigger anything, so it never reaches the message processor.

This module runs inside the Rasa server (Python 3.10 environment); credentials.yml names it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import action_validation
import nlu_thread
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput

action_validation.install()
nlu_thread.install()

MessageHandler = Callable[[UserMessage], Awaitable[Any]]


def ignore_empty(on_new_message: MessageHandler) -> MessageHandler:
    async def handle(message: UserMessage) -> None:
        if message.text is None or not message.text.strip():
            return
        await on_new_message(message)

    return handle


class GuardedRestInput(RestInput):
    """``/webhooks/rest/webhook``; an empty message gets ``[]``."""

    def blueprint(self, on_new_message: MessageHandler):  # type: ignore[override]
        return super().blueprint(ignore_empty(on_new_message))


class GuardedSocketIOInput(SocketIOInput):
    """The socketio channel third-party Rasa web widgets speak."""

    def blueprint(self, on_new_message: MessageHandler):  # type: ignore[override]
        return super().blueprint(ignore_empty(on_new_message))
