"""Serve the web app with waitress (a production WSGI server) on loopback."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from waitress import serve

from core.settings import Settings, load_settings
from web import create_app


def main(argv: list[str] | None = None) -> None:
    settings = load_settings()
    parser = argparse.ArgumentParser(description="Web-App des Helpdesk-Assistenten")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=settings.web_port)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = create_app({"SETTINGS": settings})
    # Threads, not processes: the app is I/O-bound (it waits on Rasa and the KB service),
    # and one process keeps memory and the in-memory rate limits in one place.
    serve(app, host=args.host, port=args.port, threads=args.threads, **waitress_options(settings))


def waitress_options(settings: Settings) -> dict[str, Any]:
    """Waitress drops X-Forwarded-* from every peer it was not told to trust, before the app
    sees them; the app's ProxyFix (web/__init__.py) decides by HELPDESK_TRUSTED_PROXIES
    instead, so behind proxies the headers must reach it. Without proxies they are dropped."""
    return {"ident": "helpdesk", "clear_untrusted_proxy_headers": settings.trusted_proxies == 0}


if __name__ == "__main__":
    main()
