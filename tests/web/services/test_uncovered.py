"""Gathering the questions the KB did not cover: each source, repeats, the period, topics,
and the link between a topic and the article drafted for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from core.db import init_db, make_engine, session_factory
from core.models import ClarifyChoice, Feedback, KbQuestion
from web.services import analytics, uncovered, uncovered_drafts

NOW = datetime.now(UTC)


@pytest.fixture
def session() -> Session:
    engine = make_engine("sqlite://")
    init_db(engine)
    with session_factory(engine)() as session:
        yield session


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def kb_question(text: str, verdict: str | None, article: int | None, days: float = 1, conv="c"):
    return KbQuestion(
        conversation_id=conv,
        query=text,
        article_id=article,
        confidence=0.3,
        verdict=verdict,
        created_at=ago(days),
    )


def period(days: int = 30) -> analytics.Period:
    return analytics.period_of(days)


def gathered(session: Session, days: int = 30) -> dict[str, uncovered.UncoveredQuestion]:
    return {q.query: q for q in uncovered.uncovered_questions(session, period(days))}


def test_not_covered_questions_and_legacy_rows(session):
    session.add_all(
        [
            kb_question("Wie installiere ich WordPress?", "not_covered", None),
            kb_question("Alte Frage ohne Urteil", None, None),  # before the three-way verdict
            kb_question("Alte beantwortete Frage", None, 4),
            kb_question("Rechnungsadresse ändern", "answer", 7),
            kb_question("Adresse?", "clarify", None),  # guides were offered: not uncovered
        ]
    )
    session.commit()
    found = gathered(session)
    assert set(found) == {"Wie installiere ich WordPress?", "Alte Frage ohne Urteil"}
    assert found["Wie installiere ich WordPress?"].source == "not_covered"


def test_something_else_and_not_helpful(session):
    session.add_all(
        [
            ClarifyChoice(
                conversation_id="a",
                query="Wie ändere ich das?",
                offered=[3, 7],
                chosen_article_id=None,
                created_at=ago(2),
            ),
            ClarifyChoice(
                conversation_id="b",
                query="Adresse ändern",
                offered=[3, 7],
                chosen_article_id=7,
                created_at=ago(2),
            ),
            Feedback(
                conversation_id="c",
                article_id=5,
                query="Mahnung trotz Zahlung",
                helpful=False,
                created_at=ago(3),
            ),
            Feedback(
                conversation_id="d",
                article_id=5,
                query="Mahnung erhalten",
                helpful=True,
                created_at=ago(3),
            ),
        ]
    )
    session.commit()
    found = gathered(session)
    assert set(found) == {"Wie ändere ich das?", "Mahnung trotz Zahlung"}
    assert found["Wie ändere ich das?"].source == "something_else"
    assert found["Mahnung trotz Zahlung"].source == "unhelpful"
    assert found["Mahnung trotz Zahlung"].count == 1


def test_exact_repeats_are_one_question_with_a_count(session):
    session.add_all(
        [
            kb_question("Wie installiere ich WordPress?", "not_covered", None, days=5, conv="a"),
            kb_question("wie  installiere ich WORDPRESS?", "not_covered", None, days=3, conv="b"),
            kb_question("Wie installiere ich WordPress?", None, None, days=2, conv="b"),
            kb_question("Wie installiere ich WordPress", "not_covered", None, days=1),  # no "?"
        ]
    )
    session.add(
        ClarifyChoice(
            conversation_id="c",
            query="Wie installiere ich WordPress?",
            offered=[1],
            chosen_article_id=None,
            created_at=ago(1.5),
        )
    )
    session.commit()
    questions = uncovered.uncovered_questions(session, period())
    assert [q.count for q in questions] == [4, 1]
    repeated = questions[0]
    assert repeated.query == "Wie installiere ich WordPress?"  # the latest wording
    assert repeated.sources == {"not_covered": 3, "something_else": 1}
    assert repeated.conversations == 3
    assert repeated.first_asked < repeated.last_asked
    assert abs((repeated.last_asked - ago(1.5)).total_seconds()) < 5


def test_only_the_period_counts(session):
    session.add_all(
        [
            kb_question("Neu", "not_covered", None, days=1),
            kb_question("Vor zwanzig Tagen", "not_covered", None, days=20),
            kb_question("Uralt", "not_covered", None, days=200),
        ]
    )
    session.commit()
    assert set(gathered(session, 7)) == {"Neu"}
    assert set(gathered(session, 30)) == {"Neu", "Vor zwanzig Tagen"}


def test_most_asked_first_and_limit(session):
    for n in range(3):
        session.add(kb_question("Häufig", "not_covered", None, days=n + 1))
    session.add(kb_question("Selten", "not_covered", None, days=1))
    session.add(kb_question("   ", "not_covered", None, days=1))  # nothing asked
    session.commit()
    questions = uncovered.uncovered_questions(session, period())
    assert [q.query for q in questions] == ["Häufig", "Selten"]
    assert [q.query for q in uncovered.uncovered_questions(session, period(), limit=1)] == [
        "Häufig"
    ]


def _question(text: str, count: int = 1, days: float = 1) -> uncovered.UncoveredQuestion:
    moment = ago(days)
    return uncovered.UncoveredQuestion(text, count, moment, moment)


def test_clusters_from_the_service_keep_every_question():
    questions = [
        _question("WordPress installieren", 2, days=3),
        _question("Gutschein einlösen", 1, days=1),
        _question("Wie installiere ich ein CMS?", 1, days=2),
        _question("Einzelfrage", 1, days=5),
    ]
    response = {
        "clusters": [
            {"label": "Wie installiere ich ein CMS?", "terms": ["installieren"], "members": [2, 0]},
            {"label": "", "terms": [], "members": [1, 1, 99, "x"]},  # repeats, junk ignored
        ]
    }
    clusters = uncovered.build_clusters(questions, response)
    assert [c.label for c in clusters] == [
        "Wie installiere ich ein CMS?",
        "Gutschein einlösen",  # the label falls back to the most central question
        "Einzelfrage",  # taken by no cluster: its own topic
    ]
    cms = clusters[0]
    assert cms.count == 3
    assert cms.texts == ["Wie installiere ich ein CMS?", "WordPress installieren"]
    assert cms.last_asked == questions[2].last_asked
    assert cms.terms == ["installieren"]


def test_a_broken_answer_still_lists_every_question():
    questions = [_question("a"), _question("b")]
    assert [c.label for c in uncovered.build_clusters(questions, {"nope": 1})] == ["a", "b"]
    assert len(uncovered.build_clusters(questions, None)) == 2


# -- drafts from a topic -------------------------------------------------------------------


def test_a_draft_keeps_distinct_questions_and_suggests_a_title(session):
    draft = uncovered_drafts.create(
        session,
        label="wie installiere ich WordPress?",
        terms=["wordpress", " installieren "],
        questions=["Wie installiere ich WordPress?", "wie installiere ich wordpress?", "CMS --> ?"],
        days=30,
        author_id=None,
    )
    session.commit()
    assert draft.questions == ["Wie installiere ich WordPress?", "CMS --> ?"]
    assert draft.terms == ["wordpress", "installieren"]
    assert uncovered_drafts.title_suggestion(draft.label, draft.terms) == (
        "Wie installiere ich WordPress"
    )
    assert uncovered_drafts.title_suggestion("x" * 300, ["wordpress", "cms"]) == "Wordpress, Cms"
    comment = uncovered_drafts.question_comment(draft)
    assert comment.startswith("<!-- Fragen von Kunden")
    assert comment.count("-->") == 1  # a question cannot end the comment early
    body = comment + "\n## Schritte\n\nSo geht es."
    assert uncovered_drafts.has_questions(body)
    assert uncovered_drafts.strip_questions(body) == "## Schritte\n\nSo geht es."


def test_linking_twice_copies_the_topic(session):
    draft = uncovered_drafts.create(
        session, label="a", terms=[], questions=["a"], days=7, author_id=None
    )
    assert uncovered_drafts.link(session, draft, 30) is draft
    copy = uncovered_drafts.link(session, draft, 31)
    assert copy is not draft and copy.article_id == 31 and copy.questions == ["a"]
    assert [d.article_id for d in uncovered_drafts.linked(session)] == [31, 30]
    assert uncovered_drafts.for_article(session, 30) == [draft]


def test_impact_counts_answers_with_the_new_article():
    questions = ["a", "b", "c"]
    response = {
        "results": [
            {"query": "a", "verdict": "answer", "article_id": 30},
            {"query": "b", "verdict": "answer", "article_id": 4},  # another guide
            {"query": "c", "verdict": "not_covered", "article_id": None},
        ]
    }
    impact = uncovered_drafts.measure(30, response, questions)
    assert (impact.answered, impact.total, impact.missed) == (1, 3, ["b", "c"])
    assert impact.message == "1 von 3 Fragen wird jetzt beantwortet."
    assert uncovered_drafts.impact_message(12, 14) == "12 von 14 Fragen werden jetzt beantwortet."


def test_a_topic_finds_its_draft_by_overlap(session):
    old = uncovered_drafts.create(
        session, label="x", terms=[], questions=["a", "b", "c", "d"], days=7, author_id=None
    )
    assert uncovered_drafts.best_match(["A", "b", "z"], [old]) is old
    assert uncovered_drafts.best_match(["z", "y", "a"], [old]) is None
