"""The database layer and `helpdesk demo load`: exact demo rows, idempotence, no clear codes."""

from __future__ import annotations

import dataclasses
import stat
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from core.db import get_sessionmaker, init_db, make_engine, session_factory, session_scope
from core.models import (
    AccessCode,
    Customer,
    Feedback,
    Invoice,
    Payment,
    PremiumSubscription,
    PrepaidAccount,
)
from core.settings import load_settings
from helpdesk import cli
from helpdesk.demo import load_demo
from support.codes import code_digest

KEY = b"demo-test-key"
CLEAR_CODES = (b"482913", b"715204", b"903311")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'helpdesk.db'}")
    init_db(engine)
    yield engine
    engine.dispose()


def _load(engine: Engine) -> None:
    with session_scope(session_factory(engine)) as session:
        load_demo(session, KEY)


def _snapshot(session: Session) -> dict[str, object]:
    """Every demo row as plain values, without the ids a reload renumbers."""
    invoices = {}
    for invoice in session.scalars(select(Invoice).order_by(Invoice.number)):
        invoices[invoice.number] = (
            invoice.customer.name,
            invoice.amount,
            invoice.currency,
            invoice.issued_on,
            invoice.due_on,
            [(r.sent_on, r.level) for r in invoice.reminders],
            [
                (p.amount, p.currency, p.method, p.received_on, p.credited_to)
                for p in invoice.payments
            ],
        )
    return {
        "customers": [
            (c.id, c.name) for c in session.scalars(select(Customer).order_by(Customer.id))
        ],
        "codes": sorted(
            (c.customer.name, c.kind, c.digest) for c in session.scalars(select(AccessCode))
        ),
        "premium": [
            (s.customer.name, s.starts_on, s.ends_on)
            for s in session.scalars(select(PremiumSubscription))
        ],
        "prepaid": [
            (a.customer.name, a.balance, a.currency)
            for a in session.scalars(select(PrepaidAccount))
        ],
        "unmatched": [
            (p.customer.name, p.amount, p.currency, p.method, p.received_on, p.credited_to)
            for p in session.scalars(select(Payment).where(Payment.invoice_id.is_(None)))
        ],
        "invoices": invoices,
    }


def test_sqlite_engine_creates_folder_and_sets_pragmas(engine: Engine, tmp_path: Path) -> None:
    assert (tmp_path / "nested" / "helpdesk.db").exists()
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_postgresql_urls_use_the_installed_driver() -> None:
    engine = make_engine("postgresql://helpdesk:secret@db.example/helpdesk")  # no connection
    assert engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg2"


def test_session_scope_commits_or_rolls_back(engine: Engine) -> None:
    maker = session_factory(engine)
    with session_scope(maker) as session:
        session.add(Feedback(conversation_id="a", query="ok", helpful=True))
    with pytest.raises(RuntimeError), session_scope(maker) as session:
        session.add(Feedback(conversation_id="b", query="lost", helpful=True))
        session.flush()
        raise RuntimeError
    with session_scope(maker) as session:
        assert session.scalars(select(Feedback.conversation_id)).all() == ["a"]


def test_datetimes_are_stored_and_read_as_utc(engine: Engine) -> None:
    zurich = timezone(timedelta(hours=1))
    with session_scope(session_factory(engine)) as session:
        session.add(
            Feedback(
                conversation_id="a",
                query="q",
                helpful=True,
                created_at=datetime(2026, 11, 3, 10, 0, tzinfo=zurich),
            )
        )
    with session_scope(session_factory(engine)) as session:
        assert session.scalar(select(Feedback.created_at)) == datetime(
            2026, 11, 3, 9, 0, tzinfo=UTC
        )
    with pytest.raises(Exception, match="naive"), session_scope(session_factory(engine)) as session:
        session.add(
            Feedback(conversation_id="b", query="q", helpful=True, created_at=datetime.now())
        )
        session.flush()


def test_get_sessionmaker_is_cached_per_url(tmp_path: Path) -> None:
    base = load_settings()
    first = dataclasses.replace(base, database_url=f"sqlite:///{tmp_path / 'a.db'}")
    second = dataclasses.replace(base, database_url=f"sqlite:///{tmp_path / 'b.db'}")
    maker = get_sessionmaker(first)
    assert get_sessionmaker(first) is maker and get_sessionmaker(second) is not maker
    with session_scope(maker) as session:  # tables are there
        assert session.scalars(select(Customer)).all() == []
    for cached in (maker, get_sessionmaker(second)):
        cached.kw["bind"].dispose()


def test_demo_rows_exactly(engine: Engine) -> None:
    _load(engine)
    with session_scope(session_factory(engine)) as session:
        data = _snapshot(session)
    assert [name for _, name in data["customers"]] == ["Muster AG", "Beispiel GmbH"]
    assert data["codes"] == sorted(
        [
            ("Muster AG", "support", code_digest("support", "482913", KEY)),
            ("Beispiel GmbH", "support", code_digest("support", "715204", KEY)),
            ("Beispiel GmbH", "vip", code_digest("vip", "903311", KEY)),
        ]
    )
    assert data["premium"] == [("Beispiel GmbH", date(2026, 1, 1), None)]
    assert data["prepaid"] == [("Muster AG", Decimal("120.00"), "CHF")]
    assert data["unmatched"] == [
        ("Muster AG", Decimal("120.00"), "CHF", "standing_order", date(2026, 10, 28), "prepaid")
    ]
    invoices = data["invoices"]
    assert {n: (c, a, cur) for n, (c, a, cur, *_) in invoices.items()} == {
        "INV-2026-1001": ("Muster AG", Decimal("120.00"), "CHF"),
        "INV-2026-1002": ("Muster AG", Decimal("59.90"), "EUR"),
        "INV-2026-1003": ("Muster AG", Decimal("35.00"), "CHF"),
        "INV-2026-1004": ("Muster AG", Decimal("80.00"), "CHF"),
        "INV-2026-1005": ("Muster AG", Decimal("15.00"), "CHF"),
        "INV-2026-1006": ("Muster AG", Decimal("240.00"), "CHF"),
        "INV-2026-2001": ("Beispiel GmbH", Decimal("99.00"), "CHF"),
    }
    paid = {n: [(p[0], p[1]) for p in row[6]] for n, row in invoices.items()}
    assert paid == {
        "INV-2026-1001": [],
        "INV-2026-1002": [(Decimal("50.00"), "EUR")],
        "INV-2026-1003": [(Decimal("35.00"), "EUR")],
        "INV-2026-1004": [(Decimal("80.00"), "CHF")],
        "INV-2026-1005": [(Decimal("15.00"), "CHF")],
        "INV-2026-1006": [],
        "INV-2026-2001": [(Decimal("99.00"), "CHF")],
    }
    reminded = {n for n, row in invoices.items() if row[5]}
    assert reminded == {f"INV-2026-100{i}" for i in (1, 2, 3, 4, 6)}
    assert invoices["INV-2026-1004"][5] == [(date(2026, 11, 2), 1)]
    assert invoices["INV-2026-1004"][6][0][3] == date(2026, 11, 3)


def test_demo_load_is_idempotent(engine: Engine) -> None:
    _load(engine)
    with session_scope(session_factory(engine)) as session:
        before = _snapshot(session)
    _load(engine)
    with session_scope(session_factory(engine)) as session:
        assert _snapshot(session) == before


def test_no_clear_code_in_the_database_files(engine: Engine, tmp_path: Path) -> None:
    _load(engine)
    engine.dispose()
    files = list((tmp_path / "nested").iterdir())
    assert files
    for path in files:
        content = path.read_bytes()
        for code in CLEAR_CODES:
            assert code not in content, (path.name, code)


def test_cli_demo_load(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HELPDESK_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HELPDESK_DATABASE_URL", f"sqlite:///{tmp_path / 'var' / 'helpdesk.db'}")
    monkeypatch.delenv("HELPDESK_SECRET_KEY", raising=False)
    assert cli.main(["demo", "load"]) == 0
    assert cli.main(["demo", "load"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("Demodaten geladen: 2 Kunden, 7 Rechnungen, 5 Mahnungen")
    key_file = tmp_path / "var" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'helpdesk.db'}")
    with session_scope(session_factory(engine)) as session:
        digests = set(session.scalars(select(AccessCode.digest)))
    engine.dispose()
    key = key_file.read_text().strip().encode()
    assert code_digest("support", "482913", key) in digests
    for path in (tmp_path / "var").iterdir():
        assert not any(code in path.read_bytes() for code in CLEAR_CODES), path.name
