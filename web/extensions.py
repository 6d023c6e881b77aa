"""Flask extensions: logins, CSRF tokens, rate limits and the chat API's CORS."""

from __future__ import annotations

from flask import Flask, request
from flask_cors import CORS
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from core.settings import Settings

login_manager = LoginManager()
csrf = CSRFProtect()

# Only the widget's chat API may be called from pages on other sites: it works without
# cookies (the conversation id is the credential). The console, the editor and the login
# use cookies and never answer another origin.
CORS_RESOURCES = r"/api/chat/.*"
# A browser may cache a preflight's answer this long (seconds).
CORS_MAX_AGE = 600


def client_ip() -> str:
    # The peer's address, which behind HELPDESK_TRUSTED_PROXIES reverse proxies werkzeug's
    # ProxyFix (web/__init__.py) has already replaced with the one they forwarded.
    return request.remote_addr or "unknown"


limiter = Limiter(key_func=client_ip, default_limits=[])


def init_app(app: Flask, settings: Settings) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Bitte melden Sie sich an."
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    limiter.init_app(app)
    _init_cors(app, settings)


def _init_cors(app: Flask, settings: Settings) -> None:
    origins = settings.allowed_origins
    CORS(
        app,
        resources={CORS_RESOURCES: {}},
        # "*" anywhere in the list: any origin (flask-cors then echoes it, with Vary: Origin).
        origins="*" if "*" in origins else list(origins),
        methods=["GET", "POST"],
        allow_headers=["Content-Type"],
        supports_credentials=False,  # no cookies: the conversation id is in the URL
        max_age=CORS_MAX_AGE,
    )
