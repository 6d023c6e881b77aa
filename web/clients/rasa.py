"""The web app's way to the bot: Rasa's REST channel for turns, its HTTP API for handing a
conversation back to the bot after an agent (``ConversationResumed``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests

from core.keys import rasa_api_token
from core.settings import Settings


class RasaUnavailable(RuntimeError):
    """Rasa did not answer in time (down, restarting, overloaded)."""


class RasaClient:
    def __init__(self, base_url: str, api_token: str, timeout: float = 10) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_token = api_token
        self.timeout = timeout
        self._session = requests.Session()

    @classmethod
    def from_settings(cls, settings: Settings) -> RasaClient:
        return cls(settings.rasa_url, rasa_api_token(settings), settings.rasa_timeout)

    def send(self, sender: str, text: str, metadata: dict[str, Any] | None = None) -> list[dict]:
        """One customer turn; the bot's messages (``text``, ``buttons``, ``custom``)."""
        payload = {"sender": sender, "message": text, "metadata": metadata or {}}
        try:
            response = self._session.post(
                f"{self.base_url}/webhooks/rest/webhook", json=payload, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise RasaUnavailable(str(exc)) from exc
        if response.status_code != 200:
            raise RasaUnavailable(f"Rasa answered {response.status_code}")
        try:
            messages = response.json()
        except ValueError as exc:  # a proxy's error page, a half-written body
            raise RasaUnavailable("Rasa answered something that is not JSON") from exc
        return messages if isinstance(messages, list) else []

    def _append_events(self, sender: str, events: list[dict[str, Any]]) -> None:
        url = f"{self.base_url}/conversations/{quote(sender, safe='')}/tracker/events"
        try:
            response = self._session.post(
                url, params={"token": self.api_token}, json=events, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise RasaUnavailable(str(exc)) from exc
        if response.status_code != 200:
            raise RasaUnavailable(f"Rasa answered {response.status_code}")

    def resume(self, sender: str, slots: dict[str, Any] | None = None) -> None:
        """Hand the conversation back to the bot, telling it ``slots`` (what an agent
        learned meanwhile, such as the verified customer) in the same request."""
        events: list[dict[str, Any]] = [{"event": "resume"}]
        events += [{"event": "slot", "name": k, "value": v} for k, v in (slots or {}).items()]
        # The bot's last action was the handoff, not listening: without this, the rules that
        # start at a customer's message would not apply to the next one.
        events.append({"event": "action", "name": "action_listen"})
        self._append_events(sender, events)

    def pause(self, sender: str) -> None:
        """An agent took the conversation over without the bot's handoff."""
        self._append_events(sender, [{"event": "pause"}])
