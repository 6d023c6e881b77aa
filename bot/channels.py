"""Rasa input channels: empty messages ignored, browser origins checked, the customer's
address as ``client_ip``.

Chat widgets send an empty user message when they open (seen with rasa-webchat); Rasa would
classify ``""`` as some intent and act on it. An empty or whitespace-only message must not
trigger anything, so it never reaches the message processor.

Widgets served from another site (rasa-webchat from the provider's pages) need CORS: the
socket.io channel lets engine.io check the ``Origin`` against ``cors_allowed_origins``
(HELPDESK_ALLOWED_ORIGINS), and refuses the handshake of any other origin; the REST channel
gets its CORS headers from Sanic-CORS (``rasa run --cors``, helpdesk/stack.py).

The actions count code attempts per ``metadata.client_ip`` (actions/adapters/common.py): on
socket.io it is the socket's peer, or behind ``trusted_proxies`` reverse proxies the address
they forwarded (the web app's rule, werkzeug's ProxyFix), never what the widget claims.

This module runs inside the Rasa server (Python 3.10 environment); credentials.yml names it.
helpdesk/rasa_config.py writes the credentials Rasa is started with, settings included.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import action_unavailable
import action_validation
import nlu_thread
import socketio_custom
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput
from sanic.request import Request
from sanic_cors.core import SANIC_CORS_EVALUATED

action_unavailable.install()
action_validation.install()
nlu_thread.install()
socketio_custom.install()

MessageHandler = Callable[[UserMessage], Awaitable[Any]]
Origins = str | list[str] | Callable[[str], bool] | None


def ignore_empty(on_new_message: MessageHandler) -> MessageHandler:
    async def handle(message: UserMessage) -> None:
        if message.text is None or not message.text.strip():
            return
        await on_new_message(message)

    return handle


def client_address(peer: str, forwarded_for: str | None, trusted_proxies: int) -> str:
    """The customer's address, by the web app's rule (werkzeug's ``ProxyFix(x_for=n)``).

    Each of the ``n`` trusted reverse proxies appends the address it saw to X-Forwarded-For,
    so the n-th entry from the right is the one the outermost proxy saw; anything further
    left is the client's own word. Without trusted proxies, or with fewer entries than
    proxies, it is the socket's peer.
    """
    if trusted_proxies > 0 and forwarded_for:
        entries = [entry.strip() for entry in forwarded_for.split(",")]
        if len(entries) >= trusted_proxies and entries[-trusted_proxies]:
            return entries[-trusted_proxies]
    return peer


def _proxy_count(credentials: dict[str, Any] | None) -> int:
    return max(0, int((credentials or {}).get("trusted_proxies") or 0))


def _refuse(origin: str) -> bool:
    return False


def engineio_origins(origins: list[str] | None) -> Origins:
    """``cors_allowed_origins`` for engine.io. None: its default, the server's own origin
    (Host header) only. An empty list would switch its origin check off, so "none" is a
    function that refuses every origin."""
    if origins is None:
        return None
    if "*" in origins:
        return "*"
    return list(origins) or _refuse


def _answer_cors_itself(eio: Any) -> None:
    """engine.io sets the CORS headers of its own responses. Mark its requests as answered
    for Sanic-CORS (``rasa run --cors``, app-wide), which would add a second
    Access-Control-Allow-Origin, and browsers refuse a response with two."""
    handle_request = eio.handle_request

    async def handle(request: Request, *args: Any, **kwargs: Any) -> Any:
        setattr(request.ctx, SANIC_CORS_EVALUATED, "1")
        return await handle_request(request, *args, **kwargs)

    # engine.io's Sanic route calls the instance's attribute, looked up when attached.
    eio.handle_request = handle


def _with_client_ip(data: Any, metadata_key: str, address: str) -> Any:
    """The widget's message with ``client_ip`` set in its metadata, whatever it sent there."""
    if not isinstance(data, dict):
        return data
    metadata = data.get(metadata_key)
    if isinstance(metadata, str):  # Rasa accepts metadata as a JSON string, too
        try:
            metadata = json.loads(metadata)
        except ValueError:
            metadata = None
    metadata = dict(metadata) if isinstance(metadata, dict) else {}
    metadata["client_ip"] = address
    return {**data, metadata_key: metadata}


class GuardedRestInput(RestInput):
    """``/webhooks/rest/webhook``; an empty message gets ``[]``.

    The web app calls it on loopback without X-Forwarded-For, and its ``client_ip`` stands. A
    request through a reverse proxy (with the header: a browser widget) gets the address the
    proxies forwarded instead of whatever ``client_ip`` it claims.
    """

    trusted_proxies = 0

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        channel = cls()
        channel.trusted_proxies = _proxy_count(credentials)
        return channel

    def blueprint(self, on_new_message: MessageHandler):  # type: ignore[override]
        return super().blueprint(ignore_empty(on_new_message))

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        metadata = super().get_metadata(request)
        forwarded = request.headers.getall("X-Forwarded-For", None)
        if forwarded is None:
            return metadata
        metadata = dict(metadata) if isinstance(metadata, dict) else {}
        address = client_address(request.ip, ",".join(forwarded), self.trusted_proxies)
        metadata["client_ip"] = address
        return metadata


class GuardedSocketIOInput(SocketIOInput):
    """The socketio channel third-party Rasa web widgets speak."""

    # From the credentials; see the module's docstring.
    allowed_origins: list[str] | None = None
    trusted_proxies = 0

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        channel = super().from_credentials(credentials)
        assert isinstance(channel, GuardedSocketIOInput)
        origins = (credentials or {}).get("cors_allowed_origins")
        if isinstance(origins, str):
            origins = origins.replace(",", " ").split()
        channel.allowed_origins = None if origins is None else [str(o) for o in origins]
        channel.trusted_proxies = _proxy_count(credentials)
        return channel

    def blueprint(self, on_new_message: MessageHandler):  # type: ignore[override]
        blueprint = super().blueprint(ignore_empty(on_new_message))
        sio = self.sio
        assert sio is not None
        # Rasa builds its AsyncServer with cors_allowed_origins=[] (no check at all, and it
        # leaves the headers to Sanic-CORS); engine.io reads the attribute on each request.
        sio.eio.cors_allowed_origins = engineio_origins(self.allowed_origins)
        _answer_cors_itself(sio.eio)
        self._stamp_client_ip(sio)
        return blueprint

    def client_ip(self, environ: dict[str, Any]) -> str:
        """The customer's address from the environ of the socket's first request."""
        request = environ.get("sanic.request")
        peer = getattr(request, "ip", "") or environ.get("REMOTE_ADDR", "")
        return client_address(peer, environ.get("HTTP_X_FORWARDED_FOR"), self.trusted_proxies)

    def _stamp_client_ip(self, sio: Any) -> None:
        # Wraps the message handler Rasa registered: it has the socket's id, which the
        # UserMessage it makes no longer has.
        namespace = self.namespace or "/"
        handle_message = sio.handlers[namespace][self.user_message_evt]

        async def handle(sid: str, data: Any) -> None:
            environ = sio.get_environ(sid, namespace) or {}
            data = _with_client_ip(data, self.metadata_key, self.client_ip(environ))
            await handle_message(sid, data)

        sio.on(self.user_message_evt, namespace=self.namespace)(handle)
