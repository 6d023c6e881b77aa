"""Serve the web app with waitress (a production WSGI server) on loopback."""

from __future__ import annotations

import argparse
import logging

from waitress import serve

from core.settings import load_settings
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
    serve(app, host=args.host, port=args.port, threads=args.threads, ident="helpdesk")


if __name__ == "__main__":
    main()
