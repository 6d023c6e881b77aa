"""Stand-ins for the other processes the web app talks to: the bot and the KB service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from support import clarify
from web.clients.kb import KbQueryError, KbUnavailable
from web.clients.rasa import RasaUnavailable

PUBLIC = "http://127.0.0.1:8000"
GUIDE = {"id": 7, "title": "Rechnungsadresse ändern", "url": f"{PUBLIC}/hilfe/7"}


# The guides offered for a question with "pdf" in it (verdict "clarify").
CHOICES = [
    {"article_id": 3, "title": "Rechnungsadresse hinzufügen"},
    {"article_id": 10, "title": "Zahlungsprofil ändern"},
]


@dataclass
class FakeBot:
    """Answers like the real bot's REST channel; ``handoff_on`` words trigger a handoff."""

    down: bool = False
    # Up without its action server: Rasa takes the message and answers nothing (a form's
    # check), or says it is limited (bot/action_unavailable.py).
    silent: bool = False
    limited: bool = False
    handoff_on: tuple[str, ...] = ("mensch", "mitarbeiter")
    sent: list[tuple[str, str, dict]] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)
    # The slots each resume told the bot (what an agent learned meanwhile).
    slots_set: dict[str, dict[str, Any]] = field(default_factory=dict)

    def send(self, sender: str, text: str, metadata: dict[str, Any] | None = None) -> list[dict]:
        if self.down:
            raise RasaUnavailable("connection refused")
        self.sent.append((sender, text, metadata or {}))
        if self.silent:
            return []
        if self.limited:
            button = {"title": "Mit einem Mitarbeiter sprechen", "payload": "/human_handoff"}
            text = "Unser Assistent ist gerade nur eingeschränkt verfügbar …"
            return [
                {"recipient_id": sender, "text": text, "buttons": [button]},
                {"recipient_id": sender, "custom": {"limited": True}},
            ]
        if any(word in text.lower() for word in self.handoff_on):
            return [
                {
                    "recipient_id": sender,
                    "text": "Ich verbinde Sie mit einem Mitarbeiter des Supports.",
                    "custom": {"handoff": {"reason": "requested"}},
                }
            ]
        if "pdf" in text.lower():  # the bot asks back, as actions/adapters/kb.py does
            choices = [(c["article_id"], c["title"]) for c in CHOICES]
            return [
                {
                    "recipient_id": sender,
                    "text": clarify.CLARIFY_QUESTION,
                    "buttons": clarify.buttons(choices),
                },
                {
                    "recipient_id": sender,
                    "custom": clarify.clarify_custom(choices, lambda i: f"{PUBLIC}/hilfe/{i}"),
                },
            ]
        return [
            {
                "recipient_id": sender,
                "text": f"**{GUIDE['title']}**\n\nSo geht es.",
                "buttons": [{"title": "Hat geholfen", "payload": "/feedback_helpful"}],
            },
            {"recipient_id": sender, "custom": {"article": GUIDE, "confidence": 0.9}},
        ]

    def resume(self, sender: str, slots: dict[str, Any] | None = None) -> None:
        if self.down:
            raise RasaUnavailable("connection refused")
        self.events.append((sender, "resume"))
        self.slots_set[sender] = dict(slots or {})

    def pause(self, sender: str) -> None:
        if self.down:
            raise RasaUnavailable("connection refused")
        self.events.append((sender, "pause"))


@dataclass
class FakeKb:
    """Answers every question from GUIDE, except: "pdf" asks back (CHOICES), "wordpress"
    is not covered. ``chosen`` records answers from a chosen guide."""

    down: bool = False
    reindexed: list[list[int]] = field(default_factory=list)
    chosen: list[tuple[str, int]] = field(default_factory=list)

    def _check(self, query: str) -> None:
        if self.down:
            raise KbUnavailable("connection refused")
        if not query.strip():
            raise KbQueryError("Bitte geben Sie eine Frage ein.")

    def search(self, query: str, k: int = 3) -> dict:
        self._check(query)
        results = [
            {
                "article_id": GUIDE["id"] + i,
                "title": f"{GUIDE['title']} {i}",
                "section": "Schritte",
                "score": 0.9 - i / 10,
                "path": f"kb/articles/de/a{i}.md",
                "snippet": "Öffnen Sie die Rechnungseinstellungen …",
            }
            for i in range(k)
        ]
        found = {"query": query, "answerable": True, "confidence": 0.9, "results": results}
        if "pdf" in query.lower():
            found.update(answerable=False, verdict="clarify", choices=[GUIDE["id"] + 1])
        elif "wordpress" in query.lower():
            found.update(answerable=False, verdict="not_covered", choices=[])
        return found

    def answer(self, query: str, article_id: int | None = None) -> dict:
        self._check(query)
        article = {"id": GUIDE["id"], "title": GUIDE["title"]}
        if article_id is not None:
            self.chosen.append((query, article_id))
            titles = {c["article_id"]: c["title"] for c in CHOICES}
            if article_id not in titles:
                raise KbQueryError("Diese Anleitung gibt es nicht (mehr).")
            article = {"id": article_id, "title": titles[article_id]}
        elif "pdf" in query.lower():
            return self._not_answered(query, "clarify", CHOICES)
        elif "wordpress" in query.lower():
            return self._not_answered(query, "not_covered", [])
        return {
            "query": query,
            "answerable": True,
            "verdict": "answer",
            "choices": [],
            "confidence": 0.9,
            "article_id": article["id"],
            "title": article["title"],
            "path": "kb/articles/de/a.md",
            "sections": [],
            "markdown": f"**{article['title']}**\n\nSo geht es.",
        }

    @staticmethod
    def _not_answered(query: str, verdict: str, choices: list[dict]) -> dict:
        return {
            "query": query,
            "answerable": False,
            "verdict": verdict,
            "choices": choices,
            "confidence": 0.4,
            "article_id": None,
            "title": "",
            "path": "",
            "sections": [],
            "markdown": "Meinen Sie eine dieser Anleitungen?" if choices else "Nichts gefunden.",
        }

    def reindex(self, article_ids: list[int]) -> dict:
        if self.down:
            raise KbUnavailable("connection refused")
        self.reindexed.append(list(article_ids))
        return {"chunks": 1, "articles": 1, "took_ms": 1.0}
