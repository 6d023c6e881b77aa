"""Who has a conversation: the owner's state machine and how a move updates the records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from core import ownership
from core.conversations import Conversation, move_owner
from core.db import init_db, make_engine, session_factory
from core.models import Handoff
from core.ownership import AGENT, BOT, WAITING


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'helpdesk.db'}")
    init_db(engine)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


@pytest.mark.parametrize(
    "owner, event, after",
    [
        (BOT, ownership.HAND_OFF, WAITING),
        (BOT, ownership.TAKE_OVER, AGENT),
        (WAITING, ownership.TAKE_OVER, AGENT),
        (AGENT, ownership.TAKE_OVER, AGENT),
        (WAITING, ownership.AGENT_REPLY, AGENT),
        (AGENT, ownership.AGENT_REPLY, AGENT),
        (WAITING, ownership.CLOSE, BOT),
        (AGENT, ownership.CLOSE, BOT),
    ],
)
def test_allowed_moves(owner: str, event: str, after: str) -> None:
    assert ownership.next_owner(owner, event) == after and ownership.can(owner, event)


@pytest.mark.parametrize(
    "owner, event",
    [
        (BOT, ownership.CLOSE),  # nothing to close: the bot has it
        (BOT, ownership.AGENT_REPLY),  # an agent must take it over first
        (WAITING, ownership.HAND_OFF),  # already handed off: no second count
        (AGENT, ownership.HAND_OFF),
    ],
)
def test_refused_moves(owner: str, event: str) -> None:
    assert not ownership.can(owner, event)
    with pytest.raises(ownership.OwnershipError):
        ownership.next_owner(owner, event)


def test_every_event_and_owner_is_known() -> None:
    for owner in ownership.OWNERS:
        for event in ownership.EVENTS:
            if ownership.can(owner, event):
                assert ownership.next_owner(owner, event) in ownership.OWNERS


def test_rasa_is_paused_exactly_while_humans_have_it() -> None:
    assert [ownership.rasa_paused(o) for o in (BOT, WAITING, AGENT)] == [False, True, True]
    assert ownership.move(BOT, ownership.TAKE_OVER).pause_rasa
    assert not ownership.move(WAITING, ownership.TAKE_OVER).pause_rasa  # already paused
    assert ownership.move(AGENT, ownership.CLOSE).resume_rasa
    with pytest.raises(ownership.OwnershipError):
        ownership.rasa_paused("closed")


def test_handoff_status_follows_the_owner() -> None:
    statuses = [ownership.handoff_status(o) for o in (WAITING, AGENT, BOT)]
    assert statuses == [ownership.OPEN, ownership.ASSIGNED, ownership.CLOSED]


def _conversation(session: Session, state: str = BOT) -> Conversation:
    conversation = Conversation(id="c1", state=state)
    session.add(conversation)
    session.add(Handoff(conversation_id="c1", reason="requested", status=ownership.OPEN))
    session.flush()
    return conversation


def _status(session: Session) -> str:
    return session.query(Handoff.status).filter_by(conversation_id="c1").scalar()


def test_a_handoff_counts_once_and_starts_the_wait(session: Session) -> None:
    conversation = _conversation(session)
    step = move_owner(session, conversation, ownership.HAND_OFF)
    assert step.left_bot and conversation.state == WAITING
    assert conversation.handoffs == 1 and conversation.handed_off_at is not None
    assert _status(session) == ownership.OPEN


def test_take_over_and_close_keep_every_record_in_step(session: Session) -> None:
    conversation = _conversation(session, WAITING)
    move_owner(session, conversation, ownership.TAKE_OVER, agent_id=None)
    assert conversation.state == AGENT and _status(session) == ownership.ASSIGNED
    assert conversation.handoffs == 0  # an agent taking over is not a handoff request
    step = move_owner(session, conversation, ownership.CLOSE)
    assert step.resume_rasa and conversation.state == BOT and conversation.agent_id is None
    assert _status(session) == ownership.CLOSED
    closed = session.query(Handoff).filter_by(conversation_id="c1").one()
    assert closed.closed_at is not None


def test_a_refused_move_changes_nothing(session: Session) -> None:
    conversation = _conversation(session)
    with pytest.raises(ownership.OwnershipError):
        move_owner(session, conversation, ownership.CLOSE)
    assert conversation.state == BOT and _status(session) == ownership.OPEN
