"""What editors and admins learn from the conversations: the questions the bot could not
answer (grouped), how helpful each article was, conversations and handoffs per day.

Plain functions over a SQLAlchemy session; the Flask views and the CSV export format them.
Days are calendar days in the helpdesk's time zone (``TIMEZONE``), not UTC: staff read
"Tuesday" as their Tuesday.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.orm import Session

from core.conversations import ChatMessage
from core.models import Feedback, Handoff, KbQuestion, VerificationAttempt

PERIODS = (7, 30, 90)
DEFAULT_DAYS = 30


def _timezone() -> tzinfo:
    try:
        return ZoneInfo("Europe/Zurich")
    except ZoneInfoNotFoundError:  # a system without tz data: UTC days are still days
        return UTC


TIMEZONE = _timezone()

# Words that do not change what is asked: "Wie kann ich X?" and "X" are the same question.
_STOPWORDS = """
    a aber alle also am an auch auf bei bin bitte bzw da dann das dass dem den der des die
    dies diese diesen dieser du ein eine einem einen einer es etwas fur gibt habe haben hallo
    hat hi ich ihr im in ist ja kann konnen man mein meine meinem meinen meiner mich mir mit
    moglich muss nicht noch nun ob oder sich sie sind so und uns unser unsere von vom was
    welche wie wir wo zu zum zur
"""
STOPWORDS = frozenset(_STOPWORDS.split())


@dataclass(frozen=True)
class Period:
    """The last ``days`` calendar days up to and including today, as UTC bounds."""

    days: int
    first_day: date
    last_day: date
    start: datetime  # inclusive
    end: datetime  # exclusive

    @property
    def day_list(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range(self.days)]


def period_of(days: int, *, now: datetime | None = None, tz: tzinfo = TIMEZONE) -> Period:
    if days < 1:
        raise ValueError("a period has at least one day")
    today = (now or datetime.now(UTC)).astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    return Period(
        days=days,
        first_day=first,
        last_day=today,
        start=datetime.combine(first, time(), tzinfo=tz).astimezone(UTC),
        end=datetime.combine(today + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC),
    )


def local_day(moment: datetime, tz: tzinfo = TIMEZONE) -> date:
    return moment.astimezone(tz).date()


def normalize_question(text: str) -> str:
    """The grouping key of a question: case, accents (ä = a, ß = ss), punctuation, spacing
    and filler words folded, so that "Wie kündige ich?" and "wie kundige ich" meet."""
    folded = unicodedata.normalize("NFKD", text.casefold().replace("ß", "ss"))
    folded = "".join(char for char in folded if not unicodedata.combining(char))
    words = re.findall(r"\w+", folded)
    content = [word for word in words if word not in STOPWORDS]
    # A question of filler words only ("Hallo?") keeps them, or all would share one group.
    return " ".join(content or words)


@dataclass
class UnansweredGroup:
    key: str
    example: str  # the most frequent wording (the latest of equally frequent ones)
    count: int
    conversations: int
    first_asked: datetime
    last_asked: datetime
    variants: int  # distinct wordings
    best_confidence: float  # how close the KB came: high ones are near misses


def _in_period(query: Select, column, period: Period) -> Select:
    return query.where(column >= period.start, column < period.end)


def not_answered() -> ColumnElement[bool]:
    """Questions the KB did not cover. A "clarify" offered guides and is not counted here:
    when none fitted, the customer's "Etwas anderes" is (see helpdesk/uncovered.py)."""
    return and_(
        KbQuestion.article_id.is_(None),
        or_(KbQuestion.verdict.is_(None), KbQuestion.verdict != "clarify"),
    )


def unanswered_questions(session: Session, period: Period) -> list[UnansweredGroup]:
    """The questions the bot did not answer, grouped, most asked first."""
    rows = session.execute(
        _in_period(
            select(
                KbQuestion.query,
                KbQuestion.conversation_id,
                KbQuestion.created_at,
                KbQuestion.confidence,
            ).where(not_answered()),
            KbQuestion.created_at,
            period,
        ).order_by(KbQuestion.created_at, KbQuestion.id)
    ).all()
    groups: dict[str, list] = defaultdict(list)
    for row in rows:
        key = normalize_question(row.query)
        if key:
            groups[key].append(row)
    result = []
    for key, asked in groups.items():
        wordings = Counter(" ".join(row.query.split()) for row in asked)
        latest = {" ".join(row.query.split()): n for n, row in enumerate(asked)}
        example = max(wordings, key=lambda w: (wordings[w], latest[w]))
        result.append(
            UnansweredGroup(
                key=key,
                example=example,
                count=len(asked),
                conversations=len({row.conversation_id for row in asked}),
                first_asked=asked[0].created_at,
                last_asked=asked[-1].created_at,
                variants=len(wordings),
                best_confidence=max(float(row.confidence or 0.0) for row in asked),
            )
        )
    result.sort(key=lambda g: (-g.count, -g.last_asked.timestamp(), g.key))
    return result


def article_titles(kb_dir: Path) -> dict[int, str]:
    """Titles of every article file there is (drafts too): what the KB calls them now."""
    from kb.store import ArticleStore

    return {article.id: article.title for article in ArticleStore(kb_dir).articles()}


def article_title(titles: Mapping[int, str], article_id: int) -> str:
    return titles.get(article_id) or f"Artikel #{article_id} (gelöscht)"


@dataclass
class ArticleStats:
    article_id: int
    title: str
    deleted: bool
    answers: int  # questions the bot answered with this article
    helpful: int
    unhelpful: int

    @property
    def ratings(self) -> int:
        return self.helpful + self.unhelpful

    @property
    def helpful_rate(self) -> float | None:
        return self.helpful / self.ratings if self.ratings else None


def article_feedback(
    session: Session, period: Period, titles: Mapping[int, str]
) -> list[ArticleStats]:
    """Per article with answers or ratings in the period: the most criticised first."""
    stats: dict[int, ArticleStats] = {}

    def entry(article_id: int) -> ArticleStats:
        if article_id not in stats:
            stats[article_id] = ArticleStats(
                article_id, article_title(titles, article_id), article_id not in titles, 0, 0, 0
            )
        return stats[article_id]

    answered = session.scalars(
        _in_period(
            select(KbQuestion.article_id).where(KbQuestion.article_id.is_not(None)),
            KbQuestion.created_at,
            period,
        )
    )
    for article_id in answered:
        entry(article_id).answers += 1
    ratings = session.execute(
        _in_period(
            # Feedback without an article (none was shown) says nothing about any guide.
            select(Feedback.article_id, Feedback.helpful).where(Feedback.article_id.is_not(None)),
            Feedback.created_at,
            period,
        )
    )
    for article_id, helpful in ratings:
        if helpful:
            entry(article_id).helpful += 1
        else:
            entry(article_id).unhelpful += 1
    return sorted(stats.values(), key=lambda s: (-s.unhelpful, -s.answers, s.article_id))


@dataclass
class DayStats:
    day: date
    conversations: int = 0
    handoffs: int = 0
    kb_questions: int = 0
    unanswered: int = 0

    @property
    def handoff_rate(self) -> float | None:
        return self.handoffs / self.conversations if self.conversations else None


@dataclass
class Summary:
    conversations: int
    handed_off_conversations: int
    handoffs: int
    kb_questions: int
    unanswered: int
    helpful: int
    unhelpful: int
    days: list[DayStats] = field(default_factory=list)

    @property
    def handoff_rate(self) -> float | None:
        return self.handed_off_conversations / self.conversations if self.conversations else None

    @property
    def answer_rate(self) -> float | None:
        if not self.kb_questions:
            return None
        return (self.kb_questions - self.unanswered) / self.kb_questions

    @property
    def helpful_rate(self) -> float | None:
        ratings = self.helpful + self.unhelpful
        return self.helpful / ratings if ratings else None


# What counts as a conversation on a day: a conversation id (Rasa's sender id, which is the
# widget's conversation id) that left any trace that day: a customer message in the web
# widget, a question to the KB, a rating, a code verification attempt or a handoff. The bot is
# also used through Rasa's REST channel without the web app; those conversations are counted
# by the traces the action server writes (KB questions, ratings, verifications, handoffs), so
# a REST conversation of small talk only is not counted (Rasa's tracker store is Rasa's own
# database and not read here). A conversation active on two days counts on both days, once
# in the period's total.
def _activity(session: Session, period: Period) -> Iterable[tuple[str, datetime]]:
    sources = [
        select(ChatMessage.conversation_id, ChatMessage.created_at).where(
            ChatMessage.sender == "customer"
        ),
        select(KbQuestion.conversation_id, KbQuestion.created_at),
        select(Feedback.conversation_id, Feedback.created_at),
        select(VerificationAttempt.conversation_id, VerificationAttempt.created_at),
        select(Handoff.conversation_id, Handoff.created_at),
    ]
    for query in sources:
        created = query.selected_columns[1]
        yield from session.execute(_in_period(query, created, period))


def summary(session: Session, period: Period, tz: tzinfo = TIMEZONE) -> Summary:
    """Totals of the period and one :class:`DayStats` per day (days without traffic too)."""
    days = {day: DayStats(day) for day in period.day_list}
    active: dict[date, set[str]] = defaultdict(set)
    everyone: set[str] = set()
    for conversation_id, moment in _activity(session, period):
        active[local_day(moment, tz)].add(conversation_id)
        everyone.add(conversation_id)
    for day, ids in active.items():
        if day in days:
            days[day].conversations = len(ids)

    handed_off: set[str] = set()
    handoffs = 0
    for conversation_id, moment in session.execute(
        _in_period(select(Handoff.conversation_id, Handoff.created_at), Handoff.created_at, period)
    ):
        handoffs += 1
        handed_off.add(conversation_id)
        if (day := local_day(moment, tz)) in days:
            days[day].handoffs += 1

    questions = unanswered = 0
    for missed, moment in session.execute(
        _in_period(select(not_answered(), KbQuestion.created_at), KbQuestion.created_at, period)
    ):
        questions += 1
        unanswered += bool(missed)
        if (day := local_day(moment, tz)) in days:
            days[day].kb_questions += 1
            days[day].unanswered += bool(missed)

    ratings = Counter(
        session.scalars(_in_period(select(Feedback.helpful), Feedback.created_at, period))
    )
    return Summary(
        conversations=len(everyone),
        handed_off_conversations=len(handed_off),
        handoffs=handoffs,
        kb_questions=questions,
        unanswered=unanswered,
        helpful=ratings[True],
        unhelpful=ratings[False],
        days=[days[day] for day in period.day_list],
    )
