"""A KB service stand-in with the routes of the editors' loop for uncovered questions:
``cluster``, ``rescore``, ``preview`` and ``reload_scope``, with the shapes of
:class:`web.clients.kb.KbClient`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.web.fakes import FakeKb
from web.clients.kb import KbUnavailable


@dataclass
class LoopKb(FakeKb):
    # A question containing one of these words joins that word's topic; others stand alone.
    topic_words: tuple[str, ...] = ("wordpress", "gutschein")
    # rescore: these questions are answered with ``answer_with`` (the newest article by default).
    answered: set[str] = field(default_factory=set)
    answer_with: int | None = None
    # preview: these questions change from not covered to an answer with the draft.
    changes: set[str] = field(default_factory=set)
    scope_file: Path | None = None
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def _up(self) -> None:
        if self.down:
            raise KbUnavailable("connection refused")

    def cluster(self, questions: list[str]) -> dict:
        self._up()
        self.calls.append(("cluster", list(questions)))
        groups: dict[str, list[int]] = {}
        for index, question in enumerate(questions):
            word = next((w for w in self.topic_words if w in question.lower()), question)
            groups.setdefault(word, []).append(index)
        clusters = [
            {
                "label": questions[members[0]],  # "most central": the first, say
                "terms": [word] if word in self.topic_words else [],
                "members": members,
            }
            for word, members in groups.items()
        ]
        return {"clusters": clusters}

    def rescore(self, queries: list[str]) -> dict:
        self._up()
        self.calls.append(("rescore", list(queries)))
        results = []
        for query in queries:
            hit = query in self.answered
            results.append(
                {
                    "query": query,
                    "verdict": "answer" if hit else "not_covered",
                    "article_id": self.answer_with if hit else None,
                    "title": "Neu" if hit else "",
                    "choices": [],
                    "confidence": 0.9 if hit else 0.2,
                }
            )
        return {"results": results}

    def preview(self, article: dict, queries: list[str]) -> dict:
        self._up()
        self.calls.append(("preview", {"article": article, "queries": list(queries)}))
        none = {"verdict": "not_covered", "article_id": None}
        return {
            "results": [
                {
                    "query": query,
                    "before": none,
                    # A draft without an id is article 0, as the real service says.
                    "after": {"verdict": "answer", "article_id": article["id"] or 0}
                    if query in self.changes
                    else none,
                    "changed": query in self.changes,
                }
                for query in queries
            ],
            # Listed topics whose words the draft's title contains.
            "scope_topics": [t for t in self._scope_topics() if article["title"] in t],
        }

    def _scope_topics(self) -> list[str]:
        if self.scope_file is None or not self.scope_file.exists():
            return []
        data = yaml.safe_load(self.scope_file.read_text(encoding="utf-8")) or {}
        return [str(t) for t in data.get("topics") or []]

    def reload_scope(self) -> dict:
        self._up()
        self.calls.append(("reload_scope", None))
        topics = 0
        if self.scope_file is not None and self.scope_file.exists():
            data = yaml.safe_load(self.scope_file.read_text(encoding="utf-8")) or {}
            topics = len(data.get("topics") or [])
        return {"topics": topics}

    def called(self, name: str) -> list[Any]:
        return [args for called, args in self.calls if called == name]
