"""Publishing a changed article as an editor would (kb.revisions), for the tests of what
happens elsewhere afterwards: other machines' files, indexes and exports."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy.orm import Session

from kb import revisions
from kb.article_input import ArticleInput, categories
from kb.store import ArticleStore

TODAY = dt.date(2031, 5, 4)


def publish(
    db: Session,
    store: ArticleStore,
    article_id: int,
    *,
    author_id: int | None = None,
    draft: bool = False,
    **changes,
) -> revisions.Saved:
    """The article's working copy with ``changes`` (ArticleInput fields), published (or, with
    ``draft``, saved as a draft) and committed. ``append`` adds a paragraph to the body
    instead of replacing it."""
    copy = revisions.working_copy(db, store, article_id)
    data = ArticleInput.from_article(copy.working)
    if "append" in changes:
        changes["body"] = f"{data.body}\n{changes.pop('append')}\n"
    saved = revisions.save(
        db,
        store,
        article_id,
        dataclasses.replace(data, **changes),
        base=copy.newest.number,
        publish=not draft,
        author_id=author_id,
        allowed_categories=categories(store.kb_dir),
        today=TODAY,
    )
    db.commit()
    return saved
