"""The web app's way to the KB: HTTP to the process that owns the model and the index.

Keeps the web processes free of torch and the index (memory), and makes an editor's
re-index visible to the bot and the console at once (one index, not several copies).
"""

from __future__ import annotations

from typing import Any

import requests

from core.keys import kb_token
from core.settings import Settings


class KbUnavailable(RuntimeError):
    """The KB service did not answer (down, starting, or overloaded)."""


class KbQueryError(ValueError):
    """The query was refused (empty, say); the message is meant for the user."""


class KbClient:
    def __init__(self, base_url: str, token: str, timeout: float = 10) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {token}"

    @classmethod
    def from_settings(cls, settings: Settings) -> KbClient:
        return cls(settings.action_server_url, kb_token(settings))

    def _post(self, path: str, payload: dict[str, Any], timeout: float | None = None) -> dict:
        try:
            response = self._session.post(
                self.base_url + path, json=payload, timeout=timeout or self.timeout
            )
        except requests.RequestException as exc:
            raise KbUnavailable(str(exc)) from exc
        if response.status_code == 400:
            raise KbQueryError(response.json().get("error", "Ungültige Anfrage"))
        if response.status_code != 200:
            raise KbUnavailable(f"KB service answered {response.status_code}")
        return response.json()

    def search(self, query: str, k: int = 3) -> dict:
        """``{"query", "answerable", "confidence", "results": [{article_id, title, …}]}``"""
        return self._post("/kb/search", {"query": query, "k": k})

    def answer(self, query: str, article_id: int | None = None) -> dict:
        """``{"answerable", "verdict", "choices", "confidence", "article_id", "title",
        "markdown", …}``; with ``article_id``, the answer from that guide."""
        payload: dict[str, Any] = {"query": query}
        if article_id is not None:
            payload["article_id"] = article_id
        return self._post("/kb/answer", payload)

    def reindex(self, article_ids: list[int]) -> dict:
        # Encoding a long article can take a few seconds on two busy cores.
        return self._post("/kb/reindex", {"article_ids": article_ids}, timeout=120)

    # The editors' "uncovered questions" loop; each encodes many texts, hence the timeouts.

    def rescore(self, queries: list[str]) -> dict:
        """``{"results": [{query, verdict, article_id, title, choices, confidence}]}``:
        search's verdict now; ``article_id``/``title`` only for the verdict "answer"."""
        return self._post("/kb/rescore", {"queries": queries}, timeout=120)

    def cluster(self, questions: list[str]) -> dict:
        """``{"clusters": [{label, terms, members}]}``, biggest first; ``members`` are indices
        into ``questions``, the most central (the label) first."""
        return self._post("/kb/cluster", {"questions": questions}, timeout=120)

    def preview(self, article: dict, queries: list[str]) -> dict:
        """What publishing ``article`` (``{id|None, title, markdown, lang}``) would change:
        ``{"results": [{query, before: {verdict, article_id}, after: {…}, changed}],
        "scope_topics": [out-of-scope topics that would keep it from answering]}``.
        A draft without an id appears as article id 0 in ``after``."""
        return self._post("/kb/preview", {"article": article, "queries": queries}, timeout=120)

    def reload_scope(self) -> dict:
        """Re-read kb/out_of_scope.yml into search: ``{"topics": n}``."""
        return self._post("/kb/reload-scope", {}, timeout=120)
