from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from core.conversations import ChatMessage, Conversation
from core.db import init_db, make_engine, session_factory
from core.models import Feedback, Handoff, KbQuestion, VerificationAttempt
from web.services import analytics

NOW = datetime(2024, 5, 15, 10, 0, tzinfo=UTC)


@pytest.fixture
def session() -> Session:
    engine = make_engine("sqlite://")
    init_db(engine)
    with session_factory(engine)() as session:
        yield session


def ago(days: float = 0, hours: float = 0) -> datetime:
    return NOW - timedelta(days=days, hours=hours)


def question(conversation: str, text: str, when: datetime, article: int | None = None):
    return KbQuestion(
        conversation_id=conversation,
        query=text,
        article_id=article,
        confidence=0.9 if article else 0.3,
        created_at=when,
    )


def test_period_covers_whole_local_days():
    period = analytics.period_of(7, now=NOW)
    assert period.first_day == date(2024, 5, 9)
    assert period.last_day == date(2024, 5, 15)
    assert len(period.day_list) == 7
    # Midnight in Zurich (summer time, UTC+2) is 22:00 UTC the day before.
    assert period.start == datetime(2024, 5, 8, 22, 0, tzinfo=UTC)
    assert period.end == datetime(2024, 5, 15, 22, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        analytics.period_of(0)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Wie kündige ich mein Abo?", "wie  KUNDIGE ich   mein abo"),
        ("Straße ändern!!", "strasse andern"),
        ("Kann ich WordPress installieren?", "wordpress installieren"),
    ],
)
def test_normalized_questions_meet(a, b):
    assert analytics.normalize_question(a) == analytics.normalize_question(b)


def test_normalization_keeps_filler_only_questions_apart():
    assert analytics.normalize_question("Hallo?") == "hallo"
    assert analytics.normalize_question("Wie?") != analytics.normalize_question("Hallo")
    assert analytics.normalize_question("?!") == ""


def test_unanswered_questions_are_grouped(session):
    session.add_all(
        [
            question("c1", "Wie installiere ich WordPress?", ago(3)),
            question("c2", "wie installiere ich wordpress", ago(2)),
            question("c2", "Wie installiere ich WordPress?", ago(1)),
            question("c3", "Gibt es Rabatt für Studenten?", ago(1)),
            question("c4", "Wie ändere ich die Adresse?", ago(1), article=3),  # answered
            question("c5", "Wie installiere ich WordPress?", ago(40)),  # before the period
            question("c6", "?!", ago(1)),  # nothing to group by
        ]
    )
    session.commit()
    groups = analytics.unanswered_questions(session, analytics.period_of(30, now=NOW))
    assert [g.count for g in groups] == [3, 1]
    wordpress = groups[0]
    assert wordpress.example == "Wie installiere ich WordPress?"
    assert wordpress.conversations == 2
    assert wordpress.variants == 2
    assert wordpress.first_asked == ago(3)
    assert wordpress.last_asked == ago(1)
    assert wordpress.best_confidence == pytest.approx(0.3)


def test_article_feedback_with_deleted_article(session):
    session.add_all(
        [
            question("c1", "Adresse", ago(1), article=3),
            question("c2", "Adresse ändern", ago(1), article=3),
            question("c3", "Alter Artikel", ago(1), article=99),
            Feedback(
                conversation_id="c1", article_id=3, query="q", helpful=True, created_at=ago(1)
            ),
            Feedback(
                conversation_id="c2", article_id=3, query="q", helpful=False, created_at=ago(1)
            ),
            Feedback(
                conversation_id="c3", article_id=99, query="q", helpful=False, created_at=ago(1)
            ),
            Feedback(
                conversation_id="c4", article_id=None, query="q", helpful=False, created_at=ago(1)
            ),
            Feedback(
                conversation_id="c5", article_id=3, query="q", helpful=True, created_at=ago(60)
            ),
        ]
    )
    session.commit()
    titles = {3: "Rechnungsadresse hinzufügen"}
    stats = analytics.article_feedback(session, analytics.period_of(30, now=NOW), titles)
    by_id = {s.article_id: s for s in stats}
    assert by_id[3].title == "Rechnungsadresse hinzufügen"
    assert (by_id[3].answers, by_id[3].helpful, by_id[3].unhelpful) == (2, 1, 1)
    assert by_id[3].helpful_rate == 0.5
    assert by_id[99].title == "Artikel #99 (gelöscht)"
    assert by_id[99].deleted
    assert by_id[99].helpful_rate == 0.0
    assert set(by_id) == {3, 99}


def test_article_titles_come_from_the_kb_files(settings):
    titles = analytics.article_titles(settings.kb_dir)
    assert len(titles) >= 20
    assert analytics.article_title(titles, 1) == titles[1]
    assert analytics.article_title(titles, 123456) == "Artikel #123456 (gelöscht)"


def test_summary_counts_distinct_conversations_per_day(session):
    session.add(Conversation(id="w1", created_at=ago(1)))
    session.flush()
    session.add_all(
        [
            # The widget conversation w1 talks on two days and asks the KB: one id per day.
            ChatMessage(conversation_id="w1", sender="customer", text="Hallo", created_at=ago(1)),
            ChatMessage(conversation_id="w1", sender="bot", text="Guten Tag", created_at=ago(1)),
            ChatMessage(
                conversation_id="w1", sender="customer", text="Noch da?", created_at=ago(0)
            ),
            question("w1", "Adresse", ago(1), article=3),
            # REST-only conversations: known from what the action server wrote.
            question("r1", "WordPress", ago(1)),
            VerificationAttempt(
                conversation_id="r2", kind="support", success=True, created_at=ago(1)
            ),
            Handoff(conversation_id="r2", reason="requested", created_at=ago(1)),
            Feedback(
                conversation_id="r3", article_id=3, query="q", helpful=True, created_at=ago(0)
            ),
            Handoff(conversation_id="old", reason="requested", created_at=ago(50)),
        ]
    )
    session.commit()
    totals = analytics.summary(session, analytics.period_of(7, now=NOW))
    assert len(totals.days) == 7
    by_day = {d.day: d for d in totals.days}
    yesterday, today = by_day[date(2024, 5, 14)], by_day[date(2024, 5, 15)]
    assert (yesterday.conversations, yesterday.handoffs) == (3, 1)
    assert (yesterday.kb_questions, yesterday.unanswered) == (2, 1)
    assert yesterday.handoff_rate == pytest.approx(1 / 3)
    assert today.conversations == 2
    assert by_day[date(2024, 5, 10)].conversations == 0
    assert by_day[date(2024, 5, 10)].handoff_rate is None
    assert totals.conversations == 4  # w1, r1, r2, r3
    assert (totals.handoffs, totals.handed_off_conversations) == (1, 1)
    assert totals.handoff_rate == 0.25
    assert totals.answer_rate == 0.5
    assert totals.helpful_rate == 1.0


def test_local_days_not_utc_days(session):
    # 23:30 UTC on 14 May is 01:30 on 15 May in Zurich.
    session.add(question("late", "WordPress", datetime(2024, 5, 14, 23, 30, tzinfo=UTC)))
    session.commit()
    totals = analytics.summary(session, analytics.period_of(7, now=NOW))
    assert {d.day: d.conversations for d in totals.days}[date(2024, 5, 15)] == 1


def test_empty_database(session):
    totals = analytics.summary(session, analytics.period_of(90, now=NOW))
    assert totals.conversations == 0
    assert totals.handoff_rate is None and totals.answer_rate is None
    assert totals.helpful_rate is None
    assert analytics.unanswered_questions(session, analytics.period_of(90, now=NOW)) == []


def test_a_question_answered_with_guides_to_choose_is_not_unanswered(session):
    clarified = question("c1", "Rechnung als PDF", ago(1))
    clarified.verdict = "clarify"
    missed = question("c2", "WordPress installieren", ago(1))
    missed.verdict = "not_covered"
    session.add_all([clarified, missed, question("c3", "Alte Frage ohne Urteil", ago(1))])
    session.commit()
    period = analytics.period_of(7, now=NOW)
    groups = analytics.unanswered_questions(session, period)
    assert sorted(g.example for g in groups) == ["Alte Frage ohne Urteil", "WordPress installieren"]
    totals = analytics.summary(session, period)
    assert (totals.kb_questions, totals.unanswered) == (3, 2)
