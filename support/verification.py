"""Checking a support or VIP code a customer typed, with a lockout against guessing.

Six digits are guessable by brute force, so failures are counted in three scopes at once:
the conversation, the customer the conversation already knows (if any) and the client
(e.g. its IP address, if known). Five failures within 15 minutes in any scope lock it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from core.models import AccessCode, Customer, PremiumSubscription, VerificationAttempt
from support.code_format import normalize_code
from support.codes import CODE_KINDS, code_digest

MAX_FAILURES = 5
LOCK_WINDOW = timedelta(minutes=15)

# Compared against when no stored code matched, so that an unknown code costs the same
# work as a known one of the wrong kind or customer.
_NO_DIGEST = "0" * 64


@dataclass(frozen=True)
class VerificationResult:
    # "ok", "invalid_format", "wrong", "locked" or "not_premium"
    status: str
    customer_id: int | None = None
    customer_name: str | None = None
    premium: bool = False
    locked_until: datetime | None = None
    attempts_left: int = MAX_FAILURES

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class _LockState:
    attempts_left: int
    locked_until: datetime | None


def verify_code(
    session: Session,
    kind: str,
    raw_code: str,
    *,
    key: bytes,
    conversation_id: str,
    client_key: str | None = None,
    customer_id: int | None = None,
    now: datetime | None = None,
) -> VerificationResult:
    """Check ``raw_code`` as a code of ``kind`` ("support" or "vip").

    In this order:

    - "locked": the conversation, the given customer or the given client has
      ``MAX_FAILURES`` failures within ``LOCK_WINDOW``; ``locked_until`` is the oldest of
      the last five plus the window. Nothing is compared and nothing recorded meanwhile.
    - "invalid_format": not six digits; not an attempt, nothing recorded.
    - "not_premium" (VIP, ``customer_id`` given): that customer has no active Premium
      subscription; nothing compared, nothing recorded.
    - "wrong": an unknown code, a code of the other kind and (with ``customer_id``) another
      customer's code are indistinguishable. Recorded as a failure. The fifth failure still
      answers "wrong", with ``attempts_left == 0`` and ``locked_until`` set; the next try
      answers "locked".
    - "not_premium" (VIP): a valid VIP code whose customer's Premium has ended. It proves
      who the customer is, so it is recorded as a success and does not count as a failure;
      ``customer_id`` and ``customer_name`` are set.
    - "ok": ``premium`` tells whether the customer has an active Premium subscription.

    A success does not reset the failure count: otherwise a client could interleave its
    own valid code with guesses and never be locked. ``attempts_left`` is what remains in
    the tightest scope. Concurrent requests may both pass the lock check; at most a few
    extra guesses get through, which the window still bounds.
    """
    if kind not in CODE_KINDS:
        raise ValueError(f"unknown code kind: {kind!r}")
    now = now or datetime.now(UTC)
    scopes = _scopes(conversation_id, customer_id, client_key)
    state = _lock_state(session, scopes, now)
    if state.locked_until is not None:
        return VerificationResult("locked", locked_until=state.locked_until, attempts_left=0)
    code = normalize_code(raw_code)
    if code is None:
        return VerificationResult("invalid_format", attempts_left=state.attempts_left)
    today = now.date()
    if kind == "vip" and customer_id is not None and not _has_premium(session, customer_id, today):
        known = session.get(Customer, customer_id)
        return VerificationResult(
            "not_premium",
            customer_id=customer_id,
            customer_name=known.name if known else None,
            attempts_left=state.attempts_left,
        )

    digest = code_digest(kind, code, key)
    stored = session.scalar(select(AccessCode).where(AccessCode.digest == digest))
    # The row was found by its indexed digest, but the decision is a constant-time
    # comparison, made for unknown codes too (against a dummy): no early-exit string
    # compare ever decides, and both paths do the same work.
    genuine = hmac.compare_digest(stored.digest if stored else _NO_DIGEST, digest)
    accepted = (
        genuine
        and stored is not None
        and stored.kind == kind
        and (customer_id is None or stored.customer_id == customer_id)
    )
    if not accepted or stored is None:
        _record(session, conversation_id, customer_id, client_key, kind, False, now)
        after = _lock_state(session, scopes, now)
        return VerificationResult(
            "wrong", locked_until=after.locked_until, attempts_left=after.attempts_left
        )

    customer = session.get_one(Customer, stored.customer_id)
    _record(session, conversation_id, customer.id, client_key, kind, True, now)
    premium = _has_premium(session, customer.id, today)
    return VerificationResult(
        "ok" if premium or kind == "support" else "not_premium",
        customer_id=customer.id,
        customer_name=customer.name,
        premium=premium,
        attempts_left=state.attempts_left,
    )


def _scopes(
    conversation_id: str, customer_id: int | None, client_key: str | None
) -> list[ColumnElement[bool]]:
    scopes = [VerificationAttempt.conversation_id == conversation_id]
    if customer_id is not None:
        scopes.append(VerificationAttempt.customer_id == customer_id)
    if client_key is not None:
        scopes.append(VerificationAttempt.client_key == client_key)
    return scopes


def _lock_state(session: Session, scopes: list[ColumnElement[bool]], now: datetime) -> _LockState:
    attempts_left = MAX_FAILURES
    locked_until: datetime | None = None
    for scope in scopes:
        recent = session.scalars(
            select(VerificationAttempt.created_at)
            .where(
                scope,
                VerificationAttempt.success.is_(False),
                VerificationAttempt.created_at > now - LOCK_WINDOW,
            )
            .order_by(VerificationAttempt.created_at.desc())
            .limit(MAX_FAILURES)
        ).all()
        attempts_left = min(attempts_left, MAX_FAILURES - len(recent))
        if len(recent) >= MAX_FAILURES:
            # The lock lifts when the oldest of the last five failures leaves the window.
            until = recent[-1] + LOCK_WINDOW
            locked_until = until if locked_until is None else max(locked_until, until)
    return _LockState(attempts_left, locked_until)


def _has_premium(session: Session, customer_id: int, day: date) -> bool:
    subscriptions = session.scalars(
        select(PremiumSubscription).where(PremiumSubscription.customer_id == customer_id)
    )
    return any(subscription.active_on(day) for subscription in subscriptions)


def _record(
    session: Session,
    conversation_id: str,
    customer_id: int | None,
    client_key: str | None,
    kind: str,
    success: bool,
    now: datetime,
) -> None:
    session.add(
        VerificationAttempt(
            conversation_id=conversation_id,
            customer_id=customer_id,
            client_key=client_key,
            kind=kind,
            success=success,
            created_at=now,
        )
    )
    session.flush()


# -- what a check means for the conversation, and what is said about it -------------------
# The bot speaks to the customer, the console to the agent: the same outcome in two
# wordings, side by side here so that the rules and the facts they state stay one.

CUSTOMER = "customer"
AGENT = "agent"
LABELS = {"support": "Supportcode", "vip": "VIP-Code"}

SUPPORT_CODE_QUESTION = (
    "Bitte geben Sie Ihren 6-stelligen Supportcode ein. Sie finden ihn in Ihrem Benutzerprofil."
)
VIP_CODE_QUESTION = (
    "Bitte geben Sie Ihren 6-stelligen VIP-Code ein. Sie finden ihn auf der "
    "Verwaltungsseite Ihres Premium-Supports."
)


def priority_after(kind: str, *, had_priority: bool, same_customer: bool) -> bool:
    """A VIP code gives priority; a support code after the VIP code of the same customer
    keeps it (the customer proved both)."""
    return kind == "vip" or (had_priority and same_customer)


def verified_slots(customer_id: int, name: str, *, priority: bool) -> dict[str, Any]:
    """What the bot knows of a verified customer (its slots), whoever verified them."""
    return {
        "verified_customer_id": float(customer_id),
        "verified_customer_name": name,
        "priority": priority,
    }


def invalid_format_text(kind: str, audience: str) -> str:
    whose = "Ihre" if audience == CUSTOMER else "die"
    return f"Ein {LABELS[kind]} besteht aus genau 6 Ziffern. Bitte prüfen Sie {whose} Eingabe."


def wrong_code_text(kind: str, attempts_left: int, audience: str) -> str:
    """Unknown, of the other kind or another customer's: deliberately one message."""
    attempts = "ein Versuch" if attempts_left == 1 else f"{attempts_left} Versuche"
    label = LABELS[kind]
    if audience == CUSTOMER:
        return (
            f"Dieser {label} konnte nicht bestätigt werden. Bitte prüfen Sie ihn und "
            f"versuchen Sie es noch einmal (noch {attempts})."
        )
    return f"Dieser {label} konnte nicht bestätigt werden (noch {attempts})."


def lock_minutes(locked_until: datetime | None, now: datetime | None = None) -> int:
    if locked_until is None:
        return round(LOCK_WINDOW.total_seconds() / 60)
    left = (locked_until - (now or datetime.now(UTC))).total_seconds() / 60
    return max(1, round(left))


def lock_text(locked_until: datetime | None, audience: str, now: datetime | None = None) -> str:
    minutes = lock_minutes(locked_until, now)
    if audience == CUSTOMER:
        return (
            "Aus Sicherheitsgründen sind weitere Code-Eingaben für "
            f"{minutes} Minuten gesperrt, weil der Code mehrmals nicht stimmte. "
            "Ein Mitarbeiter des Supports kann Sie auch anders identifizieren."
        )
    return (
        "Zu viele falsche Codes: Die Code-Prüfung ist aus Sicherheitsgründen für "
        f"{minutes} Minuten gesperrt. Bitte identifizieren Sie den Kunden auf anderem Weg."
    )


def not_premium_text(audience: str) -> str:
    if audience == CUSTOMER:
        return (
            "Einen VIP-Code gibt es nur mit dem Premium-Support. Für Ihr Konto ist "
            "kein Premium-Support aktiv, deshalb kann ich keinen VIP-Code bestätigen. "
            "Mit Ihrem Supportcode kann ich Sie trotzdem identifizieren."
        )
    return (
        "Ein VIP-Code gilt nur mit aktivem Premium-Support; er kann nicht bestätigt "
        "werden. Prüfen Sie stattdessen den Supportcode."
    )


def confirmed_text(name: str, *, priority: bool, audience: str) -> str:
    if audience == CUSTOMER:
        if priority:
            return (
                f"Vielen Dank, Ihr VIP-Code ist bestätigt ({name}). Ihre Anliegen werden "
                "bevorzugt behandelt."
            )
        return f"Vielen Dank, Sie sind als Kunde {name} verifiziert."
    if priority:
        return f"VIP-Code bestätigt: {name}. Das Gespräch wird bevorzugt behandelt."
    return f"Supportcode bestätigt: {name}."
