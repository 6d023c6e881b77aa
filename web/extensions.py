"""Flask extensions: logins, CSRF tokens and rate limits."""

from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()


def client_ip() -> str:
    # The app listens on loopback; a reverse proxy in front must set X-Forwarded-For and be
    # made trusted with werkzeug's ProxyFix, not here.
    return request.remote_addr or "unknown"


limiter = Limiter(key_func=client_ip, default_limits=[])


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Bitte melden Sie sich an."
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    limiter.init_app(app)
