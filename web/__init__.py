"""The Flask web app: chat widget and chat API (customers), agent console, KB editor,
analytics. ``create_app`` is the only entry point; every audience is one blueprint."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from core.settings import Settings, load_settings

MAX_REQUEST_BYTES = 256 * 1024  # an article with room to spare; no uploads


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` may hold Flask settings and these extras:

    ``SETTINGS`` (a :class:`Settings`), ``KB_CLIENT`` and ``RASA_CLIENT`` (objects with the
    methods of :class:`~web.clients.kb.KbClient` / :class:`~web.clients.rasa.RasaClient`).
    """
    config = dict(config or {})
    settings: Settings = config.pop("SETTINGS", None) or load_settings()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=_flask_secret(settings),
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_NAME="helpdesk_session",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        RATELIMIT_STORAGE_URI=settings.rate_limit_storage_url,
        # A shared store (Redis) that is down: count in this process until it is back,
        # rather than answer every chat message with an error.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_HEADERS_ENABLED=True,
        JSON_AS_ASCII=False,
    )
    app.config.update(config)
    app.extensions["helpdesk.settings"] = settings
    if settings.trusted_proxies:
        # Behind reverse proxies the peer is the nearest proxy: the customer's address (for
        # the rate limits, and as client_ip for the bot's code lockout), scheme and host come
        # from the X-Forwarded-* values those proxies appended, and from no further left.
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    from web import channels, db, extensions, json_input, security

    db.init_app(app, settings)
    channels.init_app(app, settings)
    extensions.init_app(app, settings)
    security.init_app(app)
    json_input.init_app(app)  # a query string that is not UTF-8: 400, not 500

    # The analytics pages add their views to analytics_common.bp when imported.
    from web import (  # noqa: F401
        agent,
        analytics,
        analytics_common,
        analytics_uncovered,
        auth,
        chat_api,
        editor,
        widget,
    )

    for blueprint in (auth.bp, widget.bp, chat_api.bp, agent.bp, editor.bp, analytics_common.bp):
        app.register_blueprint(blueprint)
    app.add_url_rule("/healthz", "healthz", lambda: {"status": "ok"})
    return app


def _flask_secret(settings: Settings) -> str:
    from core.keys import flask_secret

    return flask_secret(settings)


def settings_of(app: Flask) -> Settings:
    return app.extensions["helpdesk.settings"]


def replace_settings(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, **changes)
