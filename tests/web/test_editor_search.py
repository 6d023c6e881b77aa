"""Publishing through the editor reaches search: a real Retriever (with the fake embedder)
stands behind the KB client, as the action server does in production."""

from __future__ import annotations

import time

import pytest

from retrieval.retriever import Retriever
from tests.fakes import FakeEmbedder
from tests.web.test_editor import ARTICLE, _form

WORD = "Quokkaformular"  # in no article


class RetrieverKb:
    """The KB client's ``reindex`` and a lexical search, answered in process."""

    def __init__(self, retriever: Retriever) -> None:
        self.retriever = retriever
        self.took: list[float] = []

    def reindex(self, article_ids: list[int]) -> dict:
        started = time.perf_counter()
        report = self.retriever.reindex(article_ids)
        self.took.append(time.perf_counter() - started)
        return {"chunks": report.chunks, "articles": report.articles, "took_ms": report.took_ms}

    def found(self, query: str) -> list[int]:
        response = self.retriever.search(query, 3, mode="lexical")
        return [r.article_id for r in response.results if query.lower() in r.snippet.lower()]


@pytest.fixture
def fake_kb(web_settings) -> RetrieverKb:  # replaces the conftest's stand-in for this module
    retriever = Retriever(web_settings, embedder=FakeEmbedder())
    retriever.load()
    return RetrieverKb(retriever)


def test_published_text_is_searchable_at_once_and_unpublished_is_gone(login, fake_kb):
    client = login("editor")
    assert fake_kb.found(WORD) == []
    form = _form(client)
    form.update(body=f"## Schritte\n\nÖffnen Sie das {WORD} im Manager.", action="publish")
    assert client.post(f"/editor/articles/{ARTICLE}", data=form).status_code == 302
    assert fake_kb.found(WORD) == [ARTICLE]
    assert fake_kb.took[-1] < 5  # the promise, here without the real model

    # A draft on top changes nothing customers (or the bot) see.
    form = _form(client)
    form.update(body="Nur ein Entwurf ohne das Wort.", action="draft")
    assert client.post(f"/editor/articles/{ARTICLE}", data=form).status_code == 302
    assert fake_kb.found(WORD) == [ARTICLE]

    form = _form(client)
    response = client.post(
        f"/editor/articles/{ARTICLE}/unpublish",
        data={"csrf_token": form["csrf_token"], "base_revision": form["base_revision"]},
    )
    assert response.status_code == 302
    assert fake_kb.found(WORD) == []
    assert ARTICLE not in fake_kb.retriever.index.articles
