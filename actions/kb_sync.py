"""Keeping this action server's index in step with the database, whichever replica published.

A change published through any web replica is re-indexed at once by the action server that
replica asked (``/kb/reindex``); every other action server finds it here within
``kb_sync_interval`` seconds by polling the database (:mod:`kb.replica`), writes the file
and re-indexes the article. One small thread; no cluster protocol.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from actions.runtime import Runtime
from kb.replica import Changes, Replica
from kb.store import ArticleStore
from retrieval.preview import reload_scope
from retrieval.retriever import IndexReport

log = logging.getLogger(__name__)


class KbSync:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.replica = Replica(ArticleStore(runtime.settings.kb_dir))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def files(self) -> Changes:
        """Bring this machine's files to the database's state (nothing is re-indexed)."""
        with self.runtime.session() as session:
            return self.replica.sync(session, self.runtime.settings.data_dir)

    def step(self, also: Iterable[int] = ()) -> IndexReport | None:
        """Catch up, then re-index what changed plus ``also`` (the ids an editor named)."""
        changes = self.files()
        ids = sorted({*changes.articles, *changes.revised, *also})
        report = self.runtime.kb.reindex(ids) if ids else None
        if changes.scope or changes.scope_revised:
            reload_scope(self.runtime.kb)
        return report

    def start(self) -> None:
        interval = self.runtime.settings.kb_sync_interval
        if interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name="kb-sync", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.step()
            except Exception:  # a database restart or a broken file must not end the loop
                log.exception("KB sync failed; trying again in %.1f s", interval)
