"""The web app's ways to the bot and to the KB (both other processes, over loopback)."""

from __future__ import annotations

from flask import Flask, current_app

from helpdesk.chat_service import Channels
from helpdesk.config import Settings
from helpdesk.kb_client import KbClient
from helpdesk.rasa_client import RasaClient


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
