"""Keeping search in step with the editor: re-index one article after it was published or
unpublished (Miguel Grinberg's "search hook" pattern, reduced to one function).

The KB service (the action server) owns the index; the web app asks it over loopback. When
it cannot be reached the save still stands, because the files are the source of truth:

- at its next start the service compares the index's fingerprint with the files and rebuilds
  what changed (``retrieval.retriever.Retriever._load_or_build``), and
- the ids that could not be re-indexed are remembered in ``<data_dir>/reindex_pending.json``
  and sent again with the next re-index, for a service that was only busy for a moment.

``SEARCH_REINDEX = False`` in the app's config turns the hook off (tests, bulk imports).
"""

from __future__ import annotations

import fcntl
import json
import logging
from pathlib import Path

from flask import current_app

from web import channels
from web.clients.kb import KbQueryError, KbUnavailable

log = logging.getLogger(__name__)

UNAVAILABLE_WARNING = (
    "Gespeichert. Die Suche wird aktualisiert, sobald der Suchdienst wieder läuft; bis dahin "
    "antwortet der Bot noch mit dem bisherigen Stand."
)
MAX_PENDING = 100  # the KB service takes at most this many ids per call


def _pending_file() -> Path:
    return channels.settings().data_dir / "reindex_pending.json"


def _update_pending(change) -> list[int]:
    """Read, change and write the pending ids under a lock; returns the ids after the change."""
    path = _pending_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            ids = json.loads(path.read_text()) if path.exists() else []
        except (ValueError, OSError):
            ids = []
        ids = sorted({i for i in change(ids) if isinstance(i, int)})[-MAX_PENDING:]
        path.write_text(json.dumps(ids))
        return ids


def reindex_article(article_id: int) -> str | None:
    """Re-index ``article_id`` (and earlier failures); a German warning if that failed."""
    if not current_app.config.get("SEARCH_REINDEX", True):
        return None
    pending = _update_pending(lambda ids: [*ids, article_id])
    try:
        channels.kb().reindex(pending)
    except (KbUnavailable, KbQueryError) as exc:
        log.warning("re-index of articles %s failed: %s", pending, exc)
        return UNAVAILABLE_WARNING
    _update_pending(lambda ids: [i for i in ids if i not in pending])
    return None
