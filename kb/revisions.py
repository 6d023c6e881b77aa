"""Editing articles with a history: drafts, publishing, unpublishing, restoring, conflicts.

The files under ``kb/`` stay the source of truth for what customers see:

- A new article's file says ``status: draft`` until it is published; search ignores it.
- A draft of a *published* article lives only as a revision (kind ``draft``) until it is
  published, so customers keep seeing the published text meanwhile.
- Publishing writes the file (``status: published``, ``updated`` today); unpublishing writes
  the working text with ``status: draft``. Either needs a re-index of that one article, which
  is the caller's job (:attr:`Saved.needs_reindex`), after the commit.
- Every save adds a revision with author and time. A file changed outside the editor (git
  pull, hand edit) is recorded as an ``imported`` revision before anything builds on it, so
  no version is ever lost.
- A save names the revision it was based on; when a newer one exists it is refused with
  :class:`Conflict` and nothing is written.

Callers hold :func:`kb_lock` from the first read to the commit, so that two saves of the
same article (in any thread or process) are checked one after the other.
"""

from __future__ import annotations

import datetime as dt
import difflib
import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.kb_records import ArticleRevision
from core.users import User
from kb import catalog
from kb.article import Article, ArticleError, parse_article
from kb.article_input import ArticleInput, validate
from kb.store import ArticleStore

KIND_LABELS = {
    "draft": "Entwurf",
    "published": "Veröffentlicht",
    "unpublished": "Zurückgezogen",
    "imported": "Aus der Datei übernommen",
}
# What the article list shows per article.
STATE_LABELS = {
    "draft": "Entwurf",
    "published": "veröffentlicht",
    "changed": "unveröffentlichte Änderungen",
}


class EditorError(Exception):
    """The action was refused; the message is German and meant for the editor."""


class NotFound(EditorError):
    pass


class Invalid(EditorError):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("Bitte korrigieren Sie die markierten Felder.")
        self.errors = errors


class Conflict(EditorError):
    def __init__(self, newer: ArticleRevision, author: str) -> None:
        super().__init__(
            f"Der Artikel wurde inzwischen von {author} geändert (Version {newer.number}). "
            "Ihre Änderungen wurden nicht gespeichert, nichts wurde überschrieben."
        )
        self.newer = newer
        self.author = author


@dataclass
class Saved:
    article: Article
    revision: ArticleRevision
    file_written: bool
    needs_reindex: bool


@dataclass
class WorkingCopy:
    file: Article  # what the file says (what customers see, if published)
    working: Article  # what the editor continues from: the newest revision
    newest: ArticleRevision

    @property
    def live(self) -> bool:
        return self.file.published

    @property
    def pending(self) -> bool:
        """A draft newer than the published file."""
        return self.live and self.newest.kind == "draft"


@contextmanager
def kb_lock(data_dir: Path) -> Iterator[None]:
    """One writer at a time, across threads and processes (``flock`` on a lock file)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "kb_editor.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- history -------------------------------------------------------------------------------


def history(session: Session, article_id: int) -> list[ArticleRevision]:
    query = select(ArticleRevision).where(ArticleRevision.article_id == article_id)
    return list(session.scalars(query.order_by(ArticleRevision.number)))


def _status(text: str) -> str:
    try:
        return parse_article(text).status
    except ArticleError:
        return ""


def written_revision(revisions: list[ArticleRevision]) -> ArticleRevision | None:
    """The newest revision whose text went into the file.

    Drafts saved while the article was published live only as revisions; every other
    revision was written (or, for ``imported``, read from the file).
    """
    live, written = False, None
    for revision in revisions:
        if revision.kind == "draft" and live:
            continue
        written = revision
        live = revision.kind == "published" or (
            revision.kind == "imported" and _status(revision.text) == "published"
        )
    return written


def _add(
    session: Session,
    article_id: int,
    kind: str,
    text: str,
    author_id: int | None,
    revisions: list[ArticleRevision],
) -> ArticleRevision:
    try:
        title = parse_article(text).title
    except ArticleError:
        title = ""
    revision = ArticleRevision(
        article_id=article_id,
        number=(revisions[-1].number if revisions else 0) + 1,
        kind=kind,
        title=title[:300] or "(ohne Titel)",
        text=text,
        author_id=author_id,
    )
    session.add(revision)
    session.flush()
    revisions.append(revision)
    return revision


def sync(session: Session, store: ArticleStore, article_id: int) -> tuple[Article, list]:
    """The article's file and its history, with a file changed outside the editor recorded
    as an ``imported`` revision first (also the first revision of an article never edited)."""
    article = catalog.find(store, article_id)
    if article is None or article.path is None:
        raise NotFound(f"Den Artikel {article_id} gibt es nicht.")
    text = article.path.read_text(encoding="utf-8")
    revisions = history(session, article_id)
    written = written_revision(revisions)
    if written is None or written.text != text:
        _add(session, article_id, "imported", text, None, revisions)
    return article, revisions


def working_copy(session: Session, store: ArticleStore, article_id: int) -> WorkingCopy:
    article, revisions = sync(session, store, article_id)
    newest = revisions[-1]
    return WorkingCopy(article, parse_article(newest.text, article.path), newest)


def author_name(session: Session, revision: ArticleRevision) -> str:
    if revision.author_id is None:
        return "jemand außerhalb des Editors" if revision.kind == "imported" else "unbekannt"
    user = session.get(User, revision.author_id)
    return user.username if user is not None else "ein gelöschtes Konto"


def author_names(session: Session, revisions: list[ArticleRevision]) -> dict[int, str]:
    ids = {r.author_id for r in revisions if r.author_id is not None}
    users = session.scalars(select(User).where(User.id.in_(ids))).all() if ids else []
    return {user.id: user.username for user in users}


def _check_base(session: Session, revisions: list[ArticleRevision], base: int) -> None:
    newest = revisions[-1]
    if newest.number != base:
        raise Conflict(newest, author_name(session, newest))


# -- actions -------------------------------------------------------------------------------


def _today(today: dt.date | None) -> dt.date:
    return today or dt.date.today()


def create(
    session: Session,
    store: ArticleStore,
    data: ArticleInput,
    *,
    publish: bool,
    author_id: int | None,
    allowed_categories: list[str],
    today: dt.date | None = None,
) -> Saved:
    known = {e.id for e in catalog.entries(store)}
    errors = validate(
        data, kb_dir=store.kb_dir, allowed_categories=allowed_categories, known_ids=known
    )
    if errors:
        raise Invalid(errors)
    # Revisions of an id whose file is gone must not be continued by a new article.
    highest = session.scalar(select(func.max(ArticleRevision.article_id))) or 0
    article_id = max(store.next_id(), highest + 1)
    article = data.to_article(article_id, "published" if publish else "draft", _today(today))
    kind = "published" if publish else "draft"
    revision = _add(session, article_id, kind, article.to_markdown(), author_id, [])
    store.save(article)
    return Saved(article, revision, file_written=True, needs_reindex=publish)


def save(
    session: Session,
    store: ArticleStore,
    article_id: int,
    data: ArticleInput,
    *,
    base: int,
    publish: bool,
    author_id: int | None,
    allowed_categories: list[str],
    today: dt.date | None = None,
) -> Saved:
    """Save the form as a draft or publish it; refused when ``base`` is not the newest."""
    file, revisions = sync(session, store, article_id)
    _check_base(session, revisions, base)
    # The article's own category stays valid even if categories.yml no longer lists it.
    allowed = [*allowed_categories, file.category]
    known = {e.id for e in catalog.entries(store)}
    errors = validate(data, kb_dir=store.kb_dir, allowed_categories=allowed, known_ids=known)
    if errors:
        raise Invalid(errors)
    article = data.to_article(
        article_id, "published" if publish else "draft", _today(today), based_on=file
    )
    # A draft of a published article must not replace what customers see.
    write = publish or not file.published
    kind = "published" if publish else "draft"
    revision = _add(session, article_id, kind, article.to_markdown(), author_id, revisions)
    if write:
        store.save(article)
    return Saved(article, revision, file_written=write, needs_reindex=publish)


def unpublish(
    session: Session,
    store: ArticleStore,
    article_id: int,
    *,
    base: int,
    author_id: int | None,
    today: dt.date | None = None,
) -> Saved:
    """Take the article out of the answers; the newest working text becomes the draft file."""
    file, revisions = sync(session, store, article_id)
    _check_base(session, revisions, base)
    if not file.published:
        raise EditorError("Der Artikel ist nicht veröffentlicht.")
    working = ArticleInput.from_article(parse_article(revisions[-1].text))
    article = working.to_article(article_id, "draft", _today(today), based_on=file)
    revision = _add(session, article_id, "unpublished", article.to_markdown(), author_id, revisions)
    store.save(article)
    return Saved(article, revision, file_written=True, needs_reindex=True)


def restore(
    session: Session,
    store: ArticleStore,
    article_id: int,
    number: int,
    *,
    author_id: int | None,
    allowed_categories: list[str],
    today: dt.date | None = None,
) -> Saved:
    """A new draft with the text of revision ``number``; publishing it is a separate step.

    Nothing is overwritten: the revision that was newest stays in the history.
    """
    file, revisions = sync(session, store, article_id)
    old = next((r for r in revisions if r.number == number), None)
    if old is None:
        raise NotFound(f"Version {number} dieses Artikels gibt es nicht.")
    try:
        data = ArticleInput.from_article(parse_article(old.text))
    except ArticleError as exc:
        raise EditorError(f"Version {number} ist kein lesbarer Artikel: {exc}") from exc
    data.lang = file.lang
    allowed = [*allowed_categories, file.category, data.category]
    errors = validate(data, kb_dir=store.kb_dir, allowed_categories=allowed)
    if errors:
        raise Invalid(errors)
    article = data.to_article(article_id, "draft", _today(today), based_on=file)
    revision = _add(session, article_id, "draft", article.to_markdown(), author_id, revisions)
    if not file.published:
        store.save(article)
    return Saved(article, revision, file_written=not file.published, needs_reindex=False)


# -- views ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "head", "hunk", "add", "del", "same"
    text: str


def diff(old: str, new: str, old_label: str, new_label: str) -> list[DiffLine]:
    """A unified diff as lines to be rendered (escaped) by the template."""
    lines = []
    for line in difflib.unified_diff(
        old.splitlines(), new.splitlines(), old_label, new_label, lineterm=""
    ):
        if line.startswith(("---", "+++")):
            kind = "head"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "same"
        lines.append(DiffLine(kind, line))
    return lines


def newest_kinds(session: Session) -> dict[int, str]:
    """The kind of every article's newest revision (one query, for the article list)."""
    newest = (
        select(ArticleRevision.article_id, func.max(ArticleRevision.number).label("number"))
        .group_by(ArticleRevision.article_id)
        .subquery()
    )
    query = select(ArticleRevision.article_id, ArticleRevision.kind).join(
        newest,
        (ArticleRevision.article_id == newest.c.article_id)
        & (ArticleRevision.number == newest.c.number),
    )
    return {article_id: kind for article_id, kind in session.execute(query)}


def state(entry: catalog.Entry, newest_kind: str | None) -> str:
    if not entry.published:
        return "draft"
    return "changed" if newest_kind == "draft" else "published"


def overview(
    session: Session,
    store: ArticleStore,
    query: str = "",
    *,
    status: str = "",
    category: str = "",
    lang: str = "",
) -> list[tuple[catalog.Entry, str]]:
    """Articles matching the filters with their state (``draft``/``published``/``changed``)."""
    kinds = newest_kinds(session)
    found = catalog.search(catalog.entries(store), query, category=category, lang=lang)
    rows = [(entry, state(entry, kinds.get(entry.id))) for entry in found]
    return [row for row in rows if not status or row[1] == status]
