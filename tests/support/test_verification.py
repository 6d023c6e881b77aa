"""Support and VIP code verification against the demo data, and the lockout."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import PremiumSubscription, VerificationAttempt
from support import verification
from support.verification import LOCK_WINDOW, MAX_FAILURES, verify_code
from tests.db_fixtures import CODE_KEY

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
MUSTER_SUPPORT, BEISPIEL_SUPPORT, BEISPIEL_VIP = "482913", "715204", "903311"


def check(session: Session, kind: str, code: str, conversation: str = "conv-1", **options):
    options.setdefault("now", T0)
    return verify_code(session, kind, code, key=CODE_KEY, conversation_id=conversation, **options)


def attempts(session: Session, **where) -> int:
    query = select(func.count()).select_from(VerificationAttempt).filter_by(**where)
    return session.scalar(query)


def fail_five(session: Session, **options) -> list:
    return [
        check(session, "support", "000000", now=T0 + timedelta(seconds=i), **options)
        for i in range(MAX_FAILURES)
    ]


def test_support_code_success(session: Session, demo: dict[str, int]) -> None:
    result = check(session, "support", "482 913")
    assert result.status == "ok" and result.ok
    assert (result.customer_id, result.customer_name) == (demo["Muster AG"], "Muster AG")
    assert result.premium is False and result.attempts_left == MAX_FAILURES
    assert attempts(session, success=True, customer_id=demo["Muster AG"]) == 1


def test_wrong_code(session: Session, demo: dict[str, int]) -> None:
    result = check(session, "support", "111111")
    assert result.status == "wrong"
    assert result.customer_id is None and result.customer_name is None
    assert result.attempts_left == MAX_FAILURES - 1 and result.locked_until is None
    assert attempts(session, success=False) == 1


def test_unknown_wrong_kind_and_other_customer_look_identical(
    session: Session, demo: dict[str, int]
) -> None:
    unknown = check(session, "support", "000000", "a")
    vip_as_support = check(session, "support", BEISPIEL_VIP, "b")
    support_as_vip = check(session, "vip", BEISPIEL_SUPPORT, "c")
    other_customer = check(session, "support", BEISPIEL_SUPPORT, "d", customer_id=demo["Muster AG"])
    assert unknown == vip_as_support == support_as_vip == other_customer
    assert unknown.status == "wrong"


@pytest.mark.parametrize("text", ["", "12345", "1234567", "abcdef", "48291x", "482_913"])
def test_format_errors_are_not_attempts(session: Session, demo: dict[str, int], text: str) -> None:
    result = check(session, "support", text)
    assert result.status == "invalid_format"
    assert result.attempts_left == MAX_FAILURES
    assert attempts(session) == 0


def test_lockout_after_five_failures_in_a_conversation(
    session: Session, demo: dict[str, int]
) -> None:
    results = fail_five(session)
    assert [r.status for r in results] == ["wrong"] * MAX_FAILURES
    assert [r.attempts_left for r in results] == [4, 3, 2, 1, 0]
    locked_until = T0 + LOCK_WINDOW  # the oldest of the five failures plus the window
    assert results[-1].locked_until == locked_until
    assert [r.locked_until for r in results[:-1]] == [None] * 4

    # Locked even with the right code, and nothing is recorded meanwhile.
    during = check(session, "support", MUSTER_SUPPORT, now=locked_until - timedelta(seconds=1))
    assert during.status == "locked" and during.locked_until == locked_until
    assert during.customer_id is None and during.attempts_left == 0
    assert attempts(session) == MAX_FAILURES

    # The oldest failure leaves the window: one attempt is free again.
    after = check(session, "support", MUSTER_SUPPORT, now=locked_until)
    assert after.status == "ok" and after.attempts_left == 1


def test_other_conversations_are_not_locked(session: Session, demo: dict[str, int]) -> None:
    fail_five(session)
    assert check(session, "support", MUSTER_SUPPORT, "conv-2").status == "ok"


def test_lockout_per_customer_across_conversations(session: Session, demo: dict[str, int]) -> None:
    muster = demo["Muster AG"]
    for i in range(MAX_FAILURES):
        check(session, "support", "000000", f"conv-{i}", customer_id=muster)
    locked = check(session, "support", MUSTER_SUPPORT, "conv-new", customer_id=muster)
    assert locked.status == "locked"
    # A conversation that does not know the customer yet is not in that scope.
    assert check(session, "support", MUSTER_SUPPORT, "conv-anon").status == "ok"


def test_lockout_per_client_key(session: Session, demo: dict[str, int]) -> None:
    for i in range(MAX_FAILURES):
        check(session, "support", "000000", f"conv-{i}", client_key="203.0.113.7")
    locked = check(session, "support", MUSTER_SUPPORT, "conv-new", client_key="203.0.113.7")
    assert locked.status == "locked" and locked.locked_until == T0 + LOCK_WINDOW
    assert check(session, "support", MUSTER_SUPPORT, "conv-x", client_key="198.51.100.1").ok


def test_a_success_does_not_reset_the_count(session: Session, demo: dict[str, int]) -> None:
    for _ in range(MAX_FAILURES - 1):
        check(session, "support", "000000")
    assert check(session, "support", MUSTER_SUPPORT).ok
    assert check(session, "support", "000000").attempts_left == 0


def test_vip_success_for_premium_customer(session: Session, demo: dict[str, int]) -> None:
    result = check(session, "vip", BEISPIEL_VIP)
    assert result.status == "ok"
    assert (result.customer_name, result.premium) == ("Beispiel GmbH", True)
    known = check(session, "vip", BEISPIEL_VIP, "conv-2", customer_id=demo["Beispiel GmbH"])
    assert known.ok


def test_vip_for_known_customer_without_premium(session: Session, demo: dict[str, int]) -> None:
    result = check(session, "vip", BEISPIEL_VIP, customer_id=demo["Muster AG"])
    assert result.status == "not_premium"
    assert result.customer_id == demo["Muster AG"] and result.premium is False
    assert attempts(session) == 0  # nothing compared


def test_valid_vip_code_after_premium_ended(session: Session, demo: dict[str, int]) -> None:
    subscription = session.scalar(select(PremiumSubscription))
    subscription.ends_on = date(2026, 10, 31)
    result = check(session, "vip", BEISPIEL_VIP)
    assert result.status == "not_premium" and result.customer_name == "Beispiel GmbH"
    assert result.attempts_left == MAX_FAILURES  # a valid code is no failure
    assert attempts(session, success=False) == 0


def test_codes_are_compared_in_constant_time(
    session: Session, demo: dict[str, int], monkeypatch
) -> None:
    calls: list[tuple[str, str]] = []
    real = verification.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(verification.hmac, "compare_digest", spy)
    assert check(session, "support", MUSTER_SUPPORT).ok
    assert check(session, "support", "000000", "conv-2").status == "wrong"
    assert len(calls) == 2
    fail_five(session, conversation="conv-3")
    calls.clear()
    assert check(session, "support", MUSTER_SUPPORT, "conv-3").status == "locked"
    assert calls == []  # nothing is compared while locked


def test_unknown_kind_is_a_programming_error(session: Session) -> None:
    with pytest.raises(ValueError):
        check(session, "admin", MUSTER_SUPPORT)


def test_priority_rule_is_one_for_bot_and_console() -> None:
    assert verification.priority_after("vip", had_priority=False, same_customer=False)
    assert verification.priority_after("support", had_priority=True, same_customer=True)
    assert not verification.priority_after("support", had_priority=True, same_customer=False)
    assert not verification.priority_after("support", had_priority=False, same_customer=True)


@pytest.mark.parametrize("audience", [verification.CUSTOMER, verification.AGENT])
def test_both_audiences_are_told_the_same_facts(audience: str) -> None:
    # The lockout's length comes from the rule, not from a number written into the text.
    assert "15 Minuten" in verification.lock_text(None, audience)
    now = datetime.now(UTC)
    assert "3 Minuten" in verification.lock_text(now + timedelta(minutes=3), audience, now)
    assert "noch ein Versuch" in verification.wrong_code_text("vip", 1, audience)
    assert "noch 4 Versuche" in verification.wrong_code_text("support", 4, audience)
    assert "6 Ziffern" in verification.invalid_format_text("support", audience)
    assert "Premium-Support" in verification.not_premium_text(audience)
    assert "Muster AG" in verification.confirmed_text("Muster AG", priority=True, audience=audience)
