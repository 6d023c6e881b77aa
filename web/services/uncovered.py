"""The questions the KB did not cover in a period, for the editors' loop: gathered from every
place a customer's question was left without a fitting guide, repeats counted, and grouped
into topics with the KB service's clusters.

Three sources, each one trace of a customer's question:

- ``not_covered``: a KB question with verdict ``not_covered``; rows stored before the
  three-way verdict (verdict ``None``) count when no article was given.
- ``something_else``: the customer was offered guides for an unclear question and chose
  "Etwas anderes" (a :class:`~core.models.ClarifyChoice` without a chosen article).
- ``unhelpful``: the customer rated an answer "Hat nicht geholfen".

Exact repeats (the same words, ignoring case and spacing) are one question with a count.
Plain functions over a SQLAlchemy session; no search code is imported here (the web app
reaches the KB service over HTTP).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.models import ClarifyChoice, Feedback, KbQuestion
from web.services.analytics import Period

SOURCES = ("not_covered", "something_else", "unhelpful")
SOURCE_LABELS = {
    "not_covered": "nicht abgedeckt",
    "something_else": "„Etwas anderes“ gewählt",
    "unhelpful": "„Hat nicht geholfen“",
}


@dataclass(frozen=True)
class Trace:
    """One time a customer's question was not covered."""

    query: str
    created_at: datetime
    source: str
    conversation_id: str


@dataclass
class UncoveredQuestion:
    query: str  # the latest wording of the repeats
    count: int
    first_asked: datetime
    last_asked: datetime
    sources: Counter[str] = field(default_factory=Counter)
    conversations: int = 0

    @property
    def source(self) -> str:
        """The most frequent source (the first in ``SOURCES`` order on a tie)."""
        return max(SOURCES, key=lambda s: (self.sources[s], -SOURCES.index(s)))


def question_key(text: str) -> str:
    """Exact repeats meet: the same words in the same order, case and spacing ignored."""
    return " ".join(text.split()).casefold()


def _in_period(query, column, period: Period):
    return query.where(column >= period.start, column < period.end)


def traces(session: Session, period: Period) -> list[Trace]:
    """Every uncovered question of the period from all three sources, oldest first."""
    found: list[Trace] = []
    not_covered = select(KbQuestion.query, KbQuestion.created_at, KbQuestion.conversation_id).where(
        or_(
            KbQuestion.verdict == "not_covered",
            KbQuestion.verdict.is_(None) & KbQuestion.article_id.is_(None),
        )
    )
    something_else = select(
        ClarifyChoice.query, ClarifyChoice.created_at, ClarifyChoice.conversation_id
    ).where(ClarifyChoice.chosen_article_id.is_(None))
    unhelpful = select(Feedback.query, Feedback.created_at, Feedback.conversation_id).where(
        Feedback.helpful.is_(False)
    )
    for source, query in (
        ("not_covered", not_covered),
        ("something_else", something_else),
        ("unhelpful", unhelpful),
    ):
        created = query.selected_columns[1]
        for text, moment, conversation in session.execute(_in_period(query, created, period)):
            if text and text.strip():
                found.append(Trace(" ".join(text.split()), moment, source, conversation))
    found.sort(key=lambda t: t.created_at)
    return found


def deduplicate(found: Iterable[Trace]) -> list[UncoveredQuestion]:
    """One entry per question (exact repeats counted), most asked first, then most recent."""
    by_key: dict[str, UncoveredQuestion] = {}
    conversations: dict[str, set[str]] = {}
    for trace in sorted(found, key=lambda t: t.created_at):
        key = question_key(trace.query)
        entry = by_key.get(key)
        if entry is None:
            entry = by_key[key] = UncoveredQuestion(
                trace.query, 0, trace.created_at, trace.created_at
            )
            conversations[key] = set()
        entry.query = trace.query  # the latest wording
        entry.count += 1
        entry.last_asked = trace.created_at
        entry.sources[trace.source] += 1
        conversations[key].add(trace.conversation_id)
    for key, entry in by_key.items():
        entry.conversations = len(conversations[key])
    return sorted(by_key.values(), key=lambda q: (-q.count, -q.last_asked.timestamp(), q.query))


def uncovered_questions(
    session: Session, period: Period, *, limit: int | None = None
) -> list[UncoveredQuestion]:
    """The period's uncovered questions, deduplicated; at most ``limit``, most asked first."""
    questions = deduplicate(traces(session, period))
    return questions if limit is None else questions[:limit]


# -- topics --------------------------------------------------------------------------------


@dataclass
class Cluster:
    """Questions on one topic, as the KB service grouped them (most central first)."""

    label: str  # the most central question
    terms: list[str]
    questions: list[UncoveredQuestion]

    @property
    def count(self) -> int:
        return sum(q.count for q in self.questions)

    @property
    def last_asked(self) -> datetime:
        return max(q.last_asked for q in self.questions)

    @property
    def sources(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for question in self.questions:
            total.update(question.sources)
        return total

    @property
    def texts(self) -> list[str]:
        return [q.query for q in self.questions]


def build_clusters(questions: Sequence[UncoveredQuestion], response: Any) -> list[Cluster]:
    """Clusters from the KB service's answer to ``kb.cluster([q.query for q in questions])``.

    Read defensively: members outside the list or named twice are ignored, and a question no
    cluster took becomes a topic of its own, so that no customer's question is dropped.
    Most asked topics first, then the most recently asked.
    """
    raw = response.get("clusters") if isinstance(response, dict) else None
    taken: set[int] = set()
    clusters: list[Cluster] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        members = []
        for index in item.get("members") or []:
            valid = isinstance(index, int) and not isinstance(index, bool)
            if valid and 0 <= index < len(questions) and index not in taken:
                taken.add(index)
                members.append(questions[index])
        if not members:
            continue
        label = " ".join(str(item.get("label") or "").split()) or members[0].query
        terms = [str(t) for t in item.get("terms") or [] if str(t).strip()]
        clusters.append(Cluster(label, terms, members))
    for index, question in enumerate(questions):
        if index not in taken:
            clusters.append(Cluster(question.query, [], [question]))
    clusters.sort(key=lambda c: (-c.count, -c.last_asked.timestamp(), c.label))
    return clusters
