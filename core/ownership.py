"""Who has a conversation: one state machine for the web app, the action server and Rasa.

The owner is one of three states:

- ``bot``: Rasa answers the customer;
- ``waiting``: handed off to the support team, no agent has it yet;
- ``agent``: an agent has it and answers.

The fourth state of the issue trail, ``closed``, belongs to the handoff, not to the
conversation: an agent closing the case ends the handoff and gives the conversation back
to the bot, where the customer can go on asking.

Three records follow the owner, and only the rules here say how:

- ``Conversation.state`` (the web app's record) is the owner;
- the conversation's active ``Handoff`` rows have the status :func:`handoff_status` gives
  (``open`` while waiting, ``assigned`` with an agent, ``closed`` back with the bot);
- Rasa's tracker is paused whenever the bot is not the owner (:func:`rasa_paused`).

This module is pure: ``core.conversations.move_owner`` applies a move to the database, the
web app pauses or resumes Rasa as the move says, and the action server opens handoffs with
the status and pause the machine gives for ``waiting``.
"""

from __future__ import annotations

from dataclasses import dataclass

BOT = "bot"
WAITING = "waiting"
AGENT = "agent"
OWNERS = (BOT, WAITING, AGENT)

# The status of a Handoff row.
OPEN = "open"
ASSIGNED = "assigned"
CLOSED = "closed"
HANDOFF_STATUSES = (OPEN, ASSIGNED, CLOSED)
# Not closed: an agent may already be on it, and a second row would split the case.
ACTIVE_HANDOFF_STATUSES = (OPEN, ASSIGNED)

# What moves the owner.
HAND_OFF = "hand_off"  # the customer or the bot asks for a human
TAKE_OVER = "take_over"  # an agent takes the conversation, from the queue or from the bot
AGENT_REPLY = "agent_reply"  # an agent answers; a waiting conversation is then theirs
CLOSE = "close"  # the agent ends the handoff: back to the bot
EVENTS = (HAND_OFF, TAKE_OVER, AGENT_REPLY, CLOSE)

_NEXT: dict[tuple[str, str], str] = {
    (BOT, HAND_OFF): WAITING,
    (BOT, TAKE_OVER): AGENT,
    (WAITING, TAKE_OVER): AGENT,
    (AGENT, TAKE_OVER): AGENT,  # another agent takes it over
    (WAITING, AGENT_REPLY): AGENT,
    (AGENT, AGENT_REPLY): AGENT,
    (WAITING, CLOSE): BOT,
    (AGENT, CLOSE): BOT,
}

_HANDOFF_STATUS = {BOT: CLOSED, WAITING: OPEN, AGENT: ASSIGNED}


class OwnershipError(ValueError):
    """The event cannot happen to a conversation with this owner."""


@dataclass(frozen=True)
class Move:
    before: str
    after: str

    @property
    def left_bot(self) -> bool:
        """The conversation has just been handed to humans (the queue's waiting starts)."""
        return self.before == BOT and self.after != BOT

    @property
    def pause_rasa(self) -> bool:
        return not rasa_paused(self.before) and rasa_paused(self.after)

    @property
    def resume_rasa(self) -> bool:
        return rasa_paused(self.before) and not rasa_paused(self.after)


def next_owner(owner: str, event: str) -> str:
    try:
        return _NEXT[(owner, event)]
    except KeyError:
        raise OwnershipError(f"{event} is not possible while the owner is {owner}") from None


def can(owner: str, event: str) -> bool:
    return (owner, event) in _NEXT


def move(owner: str, event: str) -> Move:
    return Move(owner, next_owner(owner, event))


def rasa_paused(owner: str) -> bool:
    """Rasa must not answer while humans have the conversation."""
    if owner not in OWNERS:
        raise OwnershipError(f"unknown owner: {owner!r}")
    return owner != BOT


def handoff_status(owner: str) -> str:
    """The status of the conversation's active handoff while ``owner`` has it."""
    return _HANDOFF_STATUS[owner]
