"""The action server, bound to loopback.

rasa-sdk's own CLI listens on every interface; an action server that checks support codes
must not be reachable from the network, so it is started here with an explicit host. The KB
model and index are loaded before the first request, not inside it, and a thread keeps the
index in step with articles published through other machines (actions/kb_sync.py).
"""

from __future__ import annotations

import argparse
import logging

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor

from actions.kb_routes import kb_blueprint
from actions.kb_sync import KbSync
from core.keys import kb_token
from core.settings import load_settings

log = logging.getLogger(__name__)
ACTIONS_PACKAGE = "actions.adapters"


def build_app(*, warm_up: bool = True):
    from actions.runtime import get_runtime

    executor = ActionExecutor()
    executor.register_package(ACTIONS_PACKAGE)
    services = get_runtime()
    sync = KbSync(services)
    if warm_up:
        # Files first (another machine may have published meanwhile), then the index.
        try:
            sync.files()
        except Exception:
            log.exception("KB files could not be compared with the database; serving them as is")
        services.kb.answer("Wie ändere ich meine Rechnungsadresse?")
        services.kb.preload_for_edits()
        sync.start()
    # The web app calls the action server from the server side only: no browser origins.
    app = create_app(executor, cors_origins=[])
    app.blueprint(kb_blueprint(services.kb, kb_token(services.settings), reindex_with=sync.step))
    return app


def main(argv: list[str] | None = None) -> None:
    settings = load_settings()
    parser = argparse.ArgumentParser(description="Aktionsserver des Helpdesk-Assistenten")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=settings.action_port)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # rasa-sdk logs every action call at DEBUG with the tracker: keep it at INFO so that
    # customers' messages (and codes) never land in a log.
    logging.getLogger("rasa_sdk").setLevel(logging.INFO)
    app = build_app()
    log.info("action server on http://%s:%d", args.host, args.port)
    app.run(host=args.host, port=args.port, single_process=True, access_log=False)


if __name__ == "__main__":
    main()
