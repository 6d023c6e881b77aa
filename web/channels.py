"""The web app's ways to the bot and to the KB (both other processes, over loopback), and
the secrets it needs, wired into the Flask app once."""

from __future__ import annotations

from flask import Flask, current_app

from core import keys
from core.settings import Settings
from web.clients.kb import KbClient
from web.clients.rasa import RasaClient
from web.services.conversation import Channels


def init_app(app: Flask, settings: Settings) -> None:
    kb = app.config.get("KB_CLIENT") or KbClient.from_settings(settings)
    bot = app.config.get("RASA_CLIENT") or RasaClient.from_settings(settings)
    app.extensions["helpdesk.channels"] = Channels(bot=bot, kb=kb, public_url=settings.public_url)


def channels() -> Channels:
    return current_app.extensions["helpdesk.channels"]


def kb() -> KbClient:
    return channels().kb  # type: ignore[return-value]


def bot() -> RasaClient:
    return channels().bot  # type: ignore[return-value]


def settings() -> Settings:
    return current_app.extensions["helpdesk.settings"]


def code_key() -> bytes:
    """The HMAC key of support and VIP codes, read once per app rather than per request."""
    key = current_app.extensions.get("helpdesk.code_key")
    if key is None:
        key = current_app.extensions["helpdesk.code_key"] = keys.code_key(settings())
    return key
