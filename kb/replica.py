"""This machine's KB files as a copy of the published KB in the database.

With several machines (web replicas, action server replicas) the database is the source of
truth for what is published: every save in the editor writes a revision holding the whole
article file, and the newest *written* revision of an article (:func:`kb.revisions.
written_revision`) is what its file must say. Files are what each machine searches and
renders, and the export an editor can still commit to git.

:func:`catch_up` brings this machine's files to the database's state. It polls a cheap
fingerprint (count and sum of the revision ids, which changes with every insert whatever
order transactions commit in) and, when it moved, compares each article's newest revision
id with what this process last applied. Only files whose text differs are written.

A file whose text the database has never seen (a hand edit or a ``git pull`` on this
machine) is left alone: the editor records it as an ``imported`` revision the next time the
article is opened, as before, and from there it reaches the other machines.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.kb_records import ArticleRevision, ScopeRevision
from kb import catalog, scope
from kb.article import parse_article
from kb.revisions import history, kb_lock, written_revision
from kb.store import ArticleStore, atomic_write

log = logging.getLogger(__name__)


@dataclass
class Changes:
    """What one catch-up changed on this machine."""

    articles: list[int] = field(default_factory=list)  # ids whose file was (re)written
    # Ids with a new revision since the previous look, whoever wrote their file (on one
    # machine the web app writes the files an action server indexes): what to re-index.
    revised: list[int] = field(default_factory=list)
    scope: bool = False  # out_of_scope.yml was rewritten
    scope_revised: bool = False  # a new version of it since the previous look
    # Files left alone: their text is in no revision (edited on this machine).
    kept: list[Path] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.articles or self.revised) or self.scope or self.scope_revised


@dataclass
class Replica:
    """The catch-up state of one process: what it applied last, per article."""

    store: ArticleStore
    fingerprint: tuple[int, int, int, int] | None = None
    applied: dict[int, int] = field(default_factory=dict)  # article id -> newest revision id
    scope_applied: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def changed(self, session: Session) -> bool:
        """Whether anything was revised since the last catch-up: two small queries, no lock,
        so that callers take the editor's file lock only when there is something to write."""
        return _fingerprint(session) != self.fingerprint

    def sync(self, session: Session, data_dir: Path) -> Changes:
        """:meth:`catch_up` under the editor's file lock (in ``data_dir``), taken only when
        the fingerprint moved: on one machine the web app writes the same files, and a save
        there must not be overwritten between its file and its commit."""
        if not self.changed(session):
            return Changes()
        with kb_lock(data_dir):
            return self.catch_up(session)

    def catch_up(self, session: Session) -> Changes:
        """Write the files the database has newer texts for; one thread at a time (the file
        lock of :meth:`sync` is the callers' across processes)."""
        with self.lock:
            now = _fingerprint(session)
            if now == self.fingerprint:
                return Changes()
            changes = Changes()
            first_look = self.fingerprint is None
            for article_id, newest in _newest_per_article(session).items():
                if self.applied.get(article_id) == newest:
                    continue
                if not first_look:
                    changes.revised.append(article_id)
                written, kept = _apply_article(session, self.store, article_id)
                if written:
                    changes.articles.append(article_id)
                if kept is not None:
                    changes.kept.append(kept)
                self.applied[article_id] = newest
            newest_scope = session.scalar(select(func.max(ScopeRevision.id))) or 0
            if newest_scope != self.scope_applied:
                changes.scope_revised = not first_look
                changes.scope, kept = _apply_scope(session, self.store.kb_dir)
                if kept is not None:
                    changes.kept.append(kept)
                self.scope_applied = newest_scope
            self.fingerprint = now
            if changes.articles or changes.scope:
                log.info(
                    "KB files updated from the database: articles %s%s",
                    changes.articles,
                    ", out-of-scope list" if changes.scope else "",
                )
            return changes


def _fingerprint(session: Session) -> tuple[int, int, int, int]:
    articles = session.execute(
        select(func.count(ArticleRevision.id), func.coalesce(func.sum(ArticleRevision.id), 0))
    ).one()
    scopes = session.execute(
        select(func.count(ScopeRevision.id), func.coalesce(func.sum(ScopeRevision.id), 0))
    ).one()
    return (int(articles[0]), int(articles[1]), int(scopes[0]), int(scopes[1]))


def _newest_per_article(session: Session) -> dict[int, int]:
    query = select(ArticleRevision.article_id, func.max(ArticleRevision.id)).group_by(
        ArticleRevision.article_id
    )
    return {article_id: newest for article_id, newest in session.execute(query)}


def _apply_article(
    session: Session, store: ArticleStore, article_id: int
) -> tuple[bool, Path | None]:
    """Write the article's published text into its file: whether the file changed, and the
    file if it was kept because its text is in no revision."""
    revisions = history(session, article_id)
    written = written_revision(revisions)
    if written is None:
        return False, None
    current = catalog.find(store, article_id)
    path = current.path if current is not None else None
    if path is None:
        # A file that exists under the id but no longer parses is still this article's.
        path = catalog.path_of(store, article_id)
    if path is not None and path.exists():
        text = path.read_text(encoding="utf-8", errors="replace")
        if text == written.text:
            return False, None
        if text not in {r.text for r in revisions}:
            log.warning(
                "article %d: %s differs from every revision in the database (edited on this "
                "machine?); kept. Opening it in the editor records it.",
                article_id,
                path,
            )
            return False, path
    else:
        path = store.path_for(parse_article(written.text))
    store.write_text(path, written.text, article_id)
    return True, None


def _apply_scope(session: Session, kb_dir: Path) -> tuple[bool, Path | None]:
    revisions = scope.history(session)
    if not revisions:
        return False, None
    newest = revisions[-1].text
    path = scope.path_of(kb_dir)
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else None
    if text == newest:
        return False, None
    if text is not None and text not in {r.text for r in revisions}:
        log.warning("%s differs from every revision in the database; kept.", path)
        return False, path
    atomic_write(path, newest)
    return True, None
