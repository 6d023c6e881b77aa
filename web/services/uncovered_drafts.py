"""An article drafted from a topic of uncovered questions: the link between the customers'
questions and the article, kept so that publishing can measure what the article changed
("12 von 14 Fragen werden jetzt beantwortet").

The draft's body starts with the questions as an HTML comment (``<!-- Fragen von Kunden:
… -->``): the editor sees them while writing, the preview and the guide pages never show
comments (the sanitizer strips them), and :func:`strip_questions` removes the block before
an article is published, so the customers' words never become searchable text of the guide.
Nothing of the answer is generated: the editor writes it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.kb_records import MAX_LABEL_CHARS, UncoveredDraft
from core.models import utc_now

MAX_QUESTIONS = 300  # kept per draft, and re-scored after publishing
MAX_QUESTION_CHARS = 500
MAX_TERMS = 10
SHOWN_IN_COMMENT = 50  # the comment in the body lists at most this many
TITLE_CHARS = 120

COMMENT_START = "<!-- Fragen von Kunden"
_BLOCK = re.compile(r"<!-- Fragen von Kunden.*?-->[ \t]*\n?", re.DOTALL)


def _clean(text: str, limit: int) -> str:
    return " ".join(str(text).split())[:limit]


def create(
    session: Session,
    *,
    label: str,
    terms: Sequence[str],
    questions: Sequence[str],
    days: int,
    author_id: int | None,
) -> UncoveredDraft:
    """Record a topic taken up; questions deduplicated (case and spacing), at most 300."""
    seen: set[str] = set()
    kept: list[str] = []
    for question in questions:
        text = _clean(question, MAX_QUESTION_CHARS)
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            kept.append(text)
    kept = kept[:MAX_QUESTIONS]
    draft = UncoveredDraft(
        label=_clean(label, MAX_LABEL_CHARS) or (kept[0] if kept else "")[:MAX_LABEL_CHARS],
        terms=[t for t in (_clean(t, 60) for t in terms) if t][:MAX_TERMS],
        questions=kept,
        days=days,
        created_by=author_id,
    )
    session.add(draft)
    session.flush()
    return draft


def link(session: Session, draft: UncoveredDraft, article_id: int) -> UncoveredDraft:
    """Tie the topic to the article saved from its form. A topic already tied to another
    article (the form sent twice) is copied, so each article keeps its own questions."""
    if draft.article_id in (None, article_id):
        draft.article_id = article_id
        return draft
    copy = UncoveredDraft(
        label=draft.label,
        terms=list(draft.terms),
        questions=list(draft.questions),
        days=draft.days,
        created_by=draft.created_by,
        article_id=article_id,
    )
    session.add(copy)
    session.flush()
    return copy


def for_article(session: Session, article_id: int) -> list[UncoveredDraft]:
    query = select(UncoveredDraft).where(UncoveredDraft.article_id == article_id)
    return list(session.scalars(query.order_by(UncoveredDraft.id)))


def linked(session: Session) -> list[UncoveredDraft]:
    """Every topic that became an article, newest first (for the topics view)."""
    query = select(UncoveredDraft).where(UncoveredDraft.article_id.is_not(None))
    return list(session.scalars(query.order_by(UncoveredDraft.id.desc())))


# -- the form ------------------------------------------------------------------------------


def title_suggestion(label: str, terms: Sequence[str]) -> str:
    """The topic's most central question without its question mark; the frequent terms if
    there is no usable question. Only a start: the editor gives the article its title."""
    title = _clean(label, 1000).rstrip("?!.:; ")
    if title and len(title) <= TITLE_CHARS:
        return title[0].upper() + title[1:]
    words = [t for t in terms if t][:4]
    if words:
        return ", ".join(w[0].upper() + w[1:] for w in words)
    return title[:TITLE_CHARS].rsplit(" ", 1)[0]


def _comment_safe(text: str) -> str:
    # "--" may not appear inside an HTML comment ("-->" would end it early).
    return text.replace("--", "–")


def question_comment(draft: UncoveredDraft) -> str:
    """The customers' questions as an HTML comment to put at the top of the body."""
    lines = [f"{COMMENT_START} zum Thema „{_comment_safe(draft.label)}“"]
    if draft.terms:
        lines[0] += f" (häufige Begriffe: {_comment_safe(', '.join(draft.terms))})"
    lines[0] += ":"
    shown = draft.questions[:SHOWN_IN_COMMENT]
    lines += [f"- {_comment_safe(q)}" for q in shown]
    if len(draft.questions) > len(shown):
        lines.append(f"… und {len(draft.questions) - len(shown)} weitere")
    lines.append("Dieser Kommentar wird beim Veröffentlichen entfernt. -->")
    return "\n".join(lines) + "\n"


def strip_questions(body: str) -> str:
    """The body without the customers' questions comment (the text that is published)."""
    return _BLOCK.sub("", body).strip()


def has_questions(body: str) -> bool:
    return _BLOCK.search(body) is not None


# -- impact --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Impact:
    answered: int
    total: int
    missed: list[str]

    @property
    def message(self) -> str:
        return impact_message(self.answered, self.total)


def measure(article_id: int, response: object, questions: Sequence[str]) -> Impact:
    """How many re-scored questions the article now answers (verdict ``answer`` with it)."""
    results = response.get("results") if isinstance(response, dict) else None
    results = [r for r in results or [] if isinstance(r, dict)]

    def answers(result: dict) -> bool:
        return result.get("verdict") == "answer" and result.get("article_id") == article_id

    if len(results) == len(questions):  # in the order sent
        missed = [q for q, r in zip(questions, results, strict=True) if not answers(r)]
    else:
        hit = {str(r.get("query")) for r in results if answers(r)}
        missed = [q for q in questions if q not in hit]
    answered = sum(1 for r in results if answers(r))
    return Impact(answered, len(results) or len(questions), missed)


def record(draft: UncoveredDraft, impact: Impact) -> None:
    draft.answered = impact.answered
    draft.total = impact.total
    draft.missed = impact.missed[:MAX_QUESTIONS]
    draft.checked_at = utc_now()


def impact_message(answered: int, total: int) -> str:
    """ "12 von 14 Fragen werden jetzt beantwortet." with German agreement."""
    noun = "Frage" if total == 1 else "Fragen"
    verb = "wird" if answered == 1 else "werden"
    return f"{answered} von {total} {noun} {verb} jetzt beantwortet."


def best_match(texts: Sequence[str], drafts: Sequence[UncoveredDraft]) -> UncoveredDraft | None:
    """The draft whose questions overlap most with a topic's questions (at least half of the
    smaller of the two), newest first on a tie: how a topic shown again finds its article."""
    wanted = {t.casefold() for t in texts}
    best, best_share = None, 0.5
    for draft in drafts:
        kept = {q.casefold() for q in draft.questions}
        if not kept or not wanted:
            continue
        share = len(wanted & kept) / min(len(wanted), len(kept))
        if share > best_share or (share == best_share and best is None):
            best, best_share = draft, share
    return best
