"""This web replica's KB files, brought up to the database's state before they are read.

The editor lists and edits files and the guide pages render them; with several machines an
article may have been published through another one (:mod:`kb.replica`). Two small queries
tell whether anything changed; only then are files written, under the editor's lock so that
a save on this machine is never overwritten half-way.
"""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from kb.replica import Replica
from kb.store import ArticleStore
from web.channels import settings
from web.db import get_db

log = logging.getLogger(__name__)


def catch_up() -> None:
    """Write what the database has newer; a database that cannot be read changes nothing."""
    if not current_app.config.get("KB_REPLICA", True):
        return
    replica = current_app.extensions.get("helpdesk.kb_replica")
    if replica is None:
        replica = Replica(ArticleStore(settings().kb_dir))
        current_app.extensions["helpdesk.kb_replica"] = replica
    db = get_db()
    try:
        # The guide pages are public: most views find nothing new and take no file lock.
        replica.sync(db, settings().data_dir)
    except SQLAlchemyError:
        log.exception("KB files not compared with the database")
        db.rollback()
