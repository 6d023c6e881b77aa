"""Stand-ins for the other processes the web app talks to: the bot and the KB service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from helpdesk.kb_client import KbQueryError, KbUnavailable
from helpdesk.rasa_client import RasaUnavailable

GUIDE = {"id": 7, "title": "Rechnungsadresse ändern", "url": "http://127.0.0.1:8000/hilfe/7"}


@dataclass
class FakeBot:
    """Answers like the real bot's REST channel; ``handoff_on`` words trigger a handoff."""

    down: bool = False
    handoff_on: tuple[str, ...] = ("mensch", "mitarbeiter")
    sent: list[tuple[str, str, dict]] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)

    def send(self, sender: str, text: str, metadata: dict[str, Any] | None = None) -> list[dict]:
        if self.down:
            raise RasaUnavailable("connection refused")
        self.sent.append((sender, text, metadata or {}))
        if any(word in text.lower() for word in self.handoff_on):
            return [
                {
                    "recipient_id": sender,
                    "text": "Ich verbinde Sie mit einem Mitarbeiter des Supports.",
                    "custom": {"handoff": {"reason": "requested"}},
                }
            ]
        return [
            {
                "recipient_id": sender,
                "text": f"**{GUIDE['title']}**\n\nSo geht es.",
                "buttons": [{"title": "Hat geholfen", "payload": "/feedback_helpful"}],
            },
            {"recipient_id": sender, "custom": {"article": GUIDE, "confidence": 0.9}},
        ]

    def resume(self, sender: str) -> None:
        if self.down:
            raise RasaUnavailable("connection refused")
        self.events.append((sender, "resume"))

    def pause(self, sender: str) -> None:
        if self.down:
            raise RasaUnavailable("connection refused")
        self.events.append((sender, "pause"))


@dataclass
class FakeKb:
    down: bool = False
    reindexed: list[list[int]] = field(default_factory=list)

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
        return {"query": query, "answerable": True, "confidence": 0.9, "results": results}

    def answer(self, query: str) -> dict:
        self._check(query)
        return {
            "query": query,
            "answerable": True,
            "confidence": 0.9,
            "article_id": GUIDE["id"],
            "title": GUIDE["title"],
            "path": "kb/articles/de/a.md",
            "sections": [],
            "markdown": f"**{GUIDE['title']}**\n\nSo geht es.",
        }

    def reindex(self, article_ids: list[int]) -> dict:
        if self.down:
            raise KbUnavailable("connection refused")
        self.reindexed.append(list(article_ids))
        return {"chunks": 1, "articles": 1, "took_ms": 1.0}
