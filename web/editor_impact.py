"""What an article changes for the customers' questions the KB did not cover, asked of the
KB service only when an editor wants to know: the "Auswirkung prüfen" button (which stored
questions would change their verdict or guide, ``kb.preview``) and right after publishing
an article drafted from a topic of questions (``kb.rescore``). Never while typing: the live
preview stays Markdown only.

The KB service may be down: the editor then gets a German message, and nothing else fails.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from kb.article_input import ArticleInput
from web import channels
from web.clients.kb import KbQueryError, KbUnavailable
from web.services import analytics, uncovered, uncovered_drafts
from web.services.uncovered_drafts import UncoveredDraft

log = logging.getLogger(__name__)

PREVIEW_QUESTIONS = 300  # the stored questions a preview sends, most asked first
UNAVAILABLE = (
    "Der Suchdienst ist gerade nicht erreichbar, deshalb lässt sich die Wirkung auf die "
    "Kundenfragen nicht prüfen. Ihr Text ist davon nicht betroffen."
)
REFUSED = (
    "Der Suchdienst hat die Prüfung abgelehnt. Bitte prüfen Sie Titel und Sprache und "
    "versuchen Sie es erneut."
)
RESCORE_LATER = (
    "Ob die Kundenfragen jetzt beantwortet werden, ließ sich nicht prüfen, weil der "
    "Suchdienst nicht erreichbar ist. Sie können es später unter „Nicht abgedeckte Fragen“ "
    "erneut prüfen."
)


@dataclass(frozen=True)
class Change:
    query: str
    before: str
    after: str


@dataclass
class Preview:
    days: int
    checked: int = 0
    changed: list[Change] = field(default_factory=list)
    error: str | None = None
    # Out-of-scope topics the text answers best: they would keep it from answering.
    scope_topics: list[str] = field(default_factory=list)


def verdict_text(
    outcome: object, own_id: int | None, titles: Mapping[int, str], *, after: bool
) -> str:
    """ "nicht abgedeckt", "Rückfrage mit Auswahl", "beantwortet mit „Titel“" in German."""
    if not isinstance(outcome, dict):
        return "unbekannt"
    verdict, article_id = outcome.get("verdict"), outcome.get("article_id")
    if verdict == "not_covered":
        return "nicht abgedeckt"
    if verdict == "clarify":
        return "Rückfrage mit Auswahl"
    if verdict != "answer":
        return "unbekannt"
    if own_id is not None and article_id == own_id:
        return "beantwortet mit diesem Artikel"
    if own_id is None and after and (not isinstance(article_id, int) or article_id <= 0):
        return "beantwortet mit diesem Artikel"
    if isinstance(article_id, int) and article_id in titles:
        return f"beantwortet mit „{titles[article_id]}“"
    return f"beantwortet mit Artikel {article_id}"


def preview_questions(session: Session, drafts: Sequence[UncoveredDraft]) -> list[str]:
    """The topic's own questions first, then the period's uncovered ones; at most 300."""
    period = analytics.period_of(analytics.DEFAULT_DAYS)
    texts = [q for draft in drafts for q in draft.questions]
    texts += [q.query for q in uncovered.uncovered_questions(session, period)]
    seen: set[str] = set()
    kept = []
    for text in texts:
        key = uncovered.question_key(text)
        if key not in seen:
            seen.add(key)
            kept.append(text)
    return kept[:PREVIEW_QUESTIONS]


def preview(
    session: Session,
    data: ArticleInput,
    *,
    article_id: int | None,
    drafts: Sequence[UncoveredDraft] = (),
) -> Preview:
    """Which stored questions the text in the form would answer differently if published."""
    result = Preview(days=analytics.DEFAULT_DAYS)
    queries = preview_questions(session, drafts)
    article = {
        "id": article_id,
        "title": data.title[:300] or "(ohne Titel)",  # the service needs a title
        "markdown": uncovered_drafts.strip_questions(data.body),
        "lang": data.lang,
    }
    try:
        response = channels.kb().preview(article, queries)
    except KbUnavailable as exc:
        log.warning("impact preview failed: %s", exc)
        result.error = UNAVAILABLE
        return result
    except KbQueryError as exc:
        log.warning("impact preview refused: %s", exc)
        result.error = REFUSED
        return result
    titles = analytics.article_titles(channels.settings().kb_dir)
    rows = response.get("results") if isinstance(response, dict) else None
    rows = [row for row in rows or [] if isinstance(row, dict)]
    topics = response.get("scope_topics") if isinstance(response, dict) else None
    result.scope_topics = [t for t in topics or [] if isinstance(t, str)]
    result.checked = len(rows) or len(queries)
    for row in rows:
        if not row.get("changed"):
            continue
        result.changed.append(
            Change(
                query=str(row.get("query") or ""),
                before=verdict_text(row.get("before"), article_id, titles, after=False),
                after=verdict_text(row.get("after"), article_id, titles, after=True),
            )
        )
    return result


def rescore(draft: UncoveredDraft, article_id: int) -> uncovered_drafts.Impact:
    """Re-score the topic's questions now and record how many the article answers.

    Raises :class:`KbUnavailable` / :class:`KbQueryError` when the KB service cannot say.
    """
    response = channels.kb().rescore(list(draft.questions))
    impact = uncovered_drafts.measure(article_id, response, draft.questions)
    uncovered_drafts.record(draft, impact)
    return impact


def after_publish(session: Session, article_id: int) -> list[tuple[str, str]]:
    """Flash messages ``(category, text)`` on what a published article answers now; empty
    when the article was not drafted from customers' questions. Commits the results."""
    drafts = uncovered_drafts.for_article(session, article_id)
    messages: list[tuple[str, str]] = []
    for draft in drafts:
        if not draft.questions:
            continue
        try:
            impact = rescore(draft, article_id)
        except (KbUnavailable, KbQueryError) as exc:
            log.warning("re-score of draft %s failed: %s", draft.id, exc)
            messages.append(("warning", RESCORE_LATER))
            break
        messages.append(("success" if impact.missed == [] else "info", impact.message))
    session.commit()
    return messages
