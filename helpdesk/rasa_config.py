"""Rasa's endpoints.yml and credentials.yml, written from our settings (Rasa wants host, port
and database apart, we take one URL per store, like the rest of the configuration), and the
origins its CORS allows."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.settings import REPO_ROOT, Settings

# Rasa's SQL tracker store with codes masked (bot/tracker_store.py).
TRACKER_STORE_CLASS = "tracker_store.MaskingSQLTrackerStore"
# Several Rasa processes on this machine without Redis: file locks (bot/lock_store.py).
FILE_LOCK_STORE_CLASS = "lock_store.FileLockStore"
# The channels (bot/channels.py) as checked in; the written credentials add our settings.
CHANNELS_FILE = REPO_ROOT / "bot" / "credentials.yml"
REST_CHANNEL = "channels.GuardedRestInput"
SOCKETIO_CHANNEL = "channels.GuardedSocketIOInput"


class StoreUrlError(ValueError):
    pass


def tracker_store(url: str) -> dict[str, Any]:
    """An SQLAlchemy URL (sqlite:///path, postgresql://user:pw@host:port/db) as Rasa's SQL
    tracker store; an SQLite file gets its folder created."""
    try:
        parts = make_url(url)
    except ArgumentError as exc:
        raise StoreUrlError(f"tracker store: not a database URL: {exc}") from None
    dialect = parts.get_backend_name()
    if dialect == "sqlite":
        if not parts.database:
            raise StoreUrlError("tracker store: an SQLite URL needs a file")
        Path(parts.database).parent.mkdir(parents=True, exist_ok=True)
        return {"type": TRACKER_STORE_CLASS, "dialect": "sqlite", "db": parts.database}
    if dialect != "postgresql":
        raise StoreUrlError(f"tracker store: unsupported database {dialect!r}")
    store: dict[str, Any] = {
        "type": TRACKER_STORE_CLASS,
        "dialect": "postgresql",
        "url": parts.host or "localhost",
        "db": parts.database or "rasa",
    }
    optional = {"port": parts.port, "username": parts.username, "password": parts.password}
    store.update({key: value for key, value in optional.items() if value})
    return store


def lock_store(url: str) -> dict[str, Any] | None:
    """Empty: Rasa's in-memory lock store (file locks with several Rasa processes, see
    :func:`endpoints`). redis://[:password@]host[:port][/db]: Redis."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss"}:
        raise StoreUrlError(f"lock store: unsupported URL scheme {parts.scheme!r}")
    store: dict[str, Any] = {"type": "redis", "url": parts.hostname or "localhost"}
    store["port"] = parts.port or 6379
    store["db"] = int(parts.path.lstrip("/") or 0)
    if parts.password:
        store["password"] = unquote(parts.password)
    if parts.scheme == "rediss":
        store["use_ssl"] = True
    return store


def endpoints(settings: Settings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "action_endpoint": {"url": f"http://127.0.0.1:{settings.action_port}/webhook"},
        "tracker_store": tracker_store(settings.tracker_store_url),
    }
    locks = lock_store(settings.lock_store_url)
    if locks is None and settings.rasa_workers > 1:
        locks = {"type": FILE_LOCK_STORE_CLASS, "url": str(settings.data_dir / "rasa" / "locks")}
    if locks:
        config["lock_store"] = locks
    return config


def write_endpoints(settings: Settings, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # It may hold database passwords: readable by the owner only.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        yaml.safe_dump(endpoints(settings), out, sort_keys=False)
    return path


def credentials(settings: Settings, channels_file: Path = CHANNELS_FILE) -> dict[str, Any]:
    """The channels of ``bot/credentials.yml``, each of ours told how many reverse proxies to
    trust for the customer's address, and the socket.io channel which browser origins may
    connect (engine.io checks them; REST's CORS is ``rasa run --cors``, see cors_arguments)."""
    channels = yaml.safe_load(channels_file.read_text(encoding="utf-8")) or {}
    for name in (REST_CHANNEL, SOCKETIO_CHANNEL):
        if name in channels:
            channels[name] = {**(channels[name] or {}), "trusted_proxies": settings.trusted_proxies}
    if SOCKETIO_CHANNEL in channels:
        channels[SOCKETIO_CHANNEL]["cors_allowed_origins"] = list(settings.allowed_origins)
    return channels


def write_credentials(settings: Settings, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(credentials(settings), sort_keys=False), encoding="utf-8")
    return path


def cors_arguments(settings: Settings) -> list[str]:
    """``rasa run`` arguments for Sanic-CORS on Rasa's HTTP routes (the REST channel; the
    HTTP API answers only with the token anyway): none without allowed origins, so no
    Access-Control-Allow-Origin is ever sent."""
    if not settings.allowed_origins:
        return []
    return ["--cors", *settings.allowed_origins]
