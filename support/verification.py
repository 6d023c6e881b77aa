"""Checking a support or VIP code a customer typed, with a lockout against guessing.

Six digits are guessable by brute force, so failures are counted in three scopes at once:
the conversation, the customer the conversation already knows (if any) and the client
(e.g. its IP address, if known). Five failures within 15 minutes in any scope lock it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

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
