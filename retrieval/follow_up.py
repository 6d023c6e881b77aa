"""Answers from the KB inside a conversation: follow-up questions and the reply's shape.

A follow-up ("und wie schalte ich das wieder ein?") means nothing on its own; it is searched
together with the previous question, so the KB sees what "das" refers to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from retrieval.answer import Answer

# Openers and pronouns that point back at the previous question (German, English, French).
_FOLLOW_UP_OPENER = re.compile(r"^\s*(und|aber|oder|also|and|but|so|et|mais|alors)\b", re.I)
_BACK_REFERENCES = frozenset(
    {
        *("das", "es", "dies", "dieses", "diese", "dafür", "dazu", "damit", "davon"),
        *("darauf", "darin", "dort", "wieder"),
        *("it", "that", "this", "again", "ça", "cela", "celui-ci"),
    }
)
FOLLOW_UP_MAX_WORDS = 10
# Context is one question deep: a chain of follow-ups must not drag old topics along.
CONTEXT_MAX_CHARS = 300


class KnowledgeBase(Protocol):
    def answer(self, raw_query: str, article_id: int | None = None) -> Answer:
        """The KB's answer; with ``article_id``, from that guide (the customer chose it)."""
        ...


@dataclass(frozen=True)
class KbReply:
    answer: Answer
    query: str  # what was searched: the question itself or the question in context
    in_context: bool


def _words(text: str) -> list[str]:
    return re.findall(r"[\wäöüß'-]+", text.lower())


def is_follow_up(text: str) -> bool:
    words = _words(text)
    if not words or len(words) > FOLLOW_UP_MAX_WORDS:
        return False
    return bool(_FOLLOW_UP_OPENER.match(text)) or any(w in _BACK_REFERENCES for w in words)


def answer_question(kb: KnowledgeBase, text: str, previous_query: str | None) -> KbReply:
    """The KB's answer to ``text``, read in the context of the previous question if needed."""
    if previous_query and is_follow_up(text):
        contextual = f"{previous_query[-CONTEXT_MAX_CHARS:]} {text}"
        reply = kb.answer(contextual)
        if reply.answerable:
            return KbReply(reply, contextual, True)
    return KbReply(kb.answer(text), text, False)
