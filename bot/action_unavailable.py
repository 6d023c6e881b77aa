"""A custom action whose server cannot be reached answers "limited", not nothing.

Rasa 3.6 logs a failed custom action ("Bot will continue, but the actions events are lost")
and sends the customer nothing. Every turn of this bot runs through a custom action, so while
the action server is down or restarting every channel fell silent: the web app noticed
the empty reply, a third-party widget on socket.io never did.

Installed: such a failure becomes the limited-service message with the button for a human,
marked ``custom.limited`` so that the web app answers in its own limited mode instead (it
can still hand over without the bot). A form's validation is not replaced: a form must not go
on with a value nobody checked, so that turn stays without a reply (the web app answers it).

Installed by ``bot/channels.py``, which Rasa imports at start (credentials.yml names it).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.shared.core.events import BotUttered, Event
from rasa.shared.exceptions import RasaException

log = logging.getLogger(__name__)

LIMITED_TEXT = (
    "Unser Assistent ist gerade nur eingeschränkt verfügbar und kann Ihre Nachricht nicht "
    "bearbeiten. Bitte versuchen Sie es in einigen Minuten erneut, oder sprechen Sie mit "
    "einem Mitarbeiter des Supports."
)
HANDOFF_BUTTON = {"title": "Mit einem Mitarbeiter sprechen", "payload": "/human_handoff"}
_original_run = RemoteAction.run


def limited_reply() -> list[Event]:
    data = {"buttons": [HANDOFF_BUTTON], "custom": {"limited": True}}
    return [BotUttered(LIMITED_TEXT, data=data)]


async def run(self: RemoteAction, *args: Any, **kwargs: Any) -> list[Event]:
    try:
        return await _original_run(self, *args, **kwargs)
    except ActionExecutionRejection:
        raise  # a form's "not this slot": Rasa's own flow, not a failure
    except RasaException as exc:
        if self.name().startswith("validate_"):
            raise
        log.error("custom action %s failed (%s): answering that service is limited", self, exc)
        return limited_reply()


def install() -> None:
    RemoteAction.run = run  # type: ignore[method-assign]
