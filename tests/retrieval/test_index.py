"""Index building, persistence, incremental updates and corruption handling (fake model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings
from kb.store import ArticleStore
from retrieval.retriever import QueryError, Retriever
from tests.fakes import FakeEmbedder


def _retriever(settings: Settings) -> tuple[Retriever, FakeEmbedder]:
    embedder = FakeEmbedder()
    return Retriever(settings, embedder=embedder), embedder


def _add_pigeon_section(settings: Settings) -> None:
    """Give article 7 (newsletter) a section no other article resembles."""
    store = ArticleStore(settings.kb_dir)
    article = store.get(7)
    article.body += "\n## Zustellung per Brieftaube\n\nDer Newsletter kommt auch per Brieftaube.\n"
    store.save(article)


def test_first_start_builds_and_second_start_loads_without_encoding(settings: Settings) -> None:
    first, embedder = _retriever(settings)
    report = first.load()
    assert not report.loaded_from_disk
    assert report.articles == 20 and report.chunks > 20
    assert report.encoded == embedder.encoded > report.chunks  # sections, sentences, articles
    second, embedder2 = _retriever(settings)
    report2 = second.load()
    assert report2.loaded_from_disk and embedder2.encoded == 0
    query = "Rechnungsadresse hinzufügen"
    assert second.search(query).to_dict()["results"] == first.search(query).to_dict()["results"]


def test_editing_one_article_reencodes_only_its_changed_chunks(settings: Settings) -> None:
    retriever, embedder = _retriever(settings)
    retriever.load()
    _add_pigeon_section(settings)
    before = embedder.encoded
    report = retriever.reindex([7])
    # The new section, its one sentence, and the whole-article vector; nothing else.
    assert embedder.encoded - before == 3 == report.encoded
    top = retriever.search("Zustellung per Brieftaube").results[0]
    assert top.article_id == 7 and "Brieftaube" in top.section
    # A restart loads the updated index as is: nothing stale, nothing re-encoded.
    again, embedder2 = _retriever(settings)
    assert again.load().loaded_from_disk and embedder2.encoded == 0


def test_unpublished_and_deleted_articles_leave_the_results(settings: Settings) -> None:
    retriever, _ = _retriever(settings)
    store = ArticleStore(settings.kb_dir)
    assert retriever.search("Renewal Warranty").results[0].article_id == 4
    article = store.get(4)
    article.status = "draft"
    store.save(article)
    retriever.reindex([4])
    assert all(r.article_id != 4 for r in retriever.search("Renewal Warranty", 20).results)
    store.get(3).path.unlink()
    retriever.reindex([3])
    assert all(
        r.article_id != 3 for r in retriever.search("Rechnungsadresse hinzufügen", 20).results
    )


def test_new_article_is_found_after_reindex(settings: Settings) -> None:
    retriever, _ = _retriever(settings)
    retriever.load()
    store = ArticleStore(settings.kb_dir)
    new = store.get(1)
    new.id, new.path, new.source = store.next_id(), None, None
    new.title = "Webmail Abwesenheitsnotiz einrichten"
    new.body = "## Abwesenheitsnotiz\n\nSchalten Sie die Abwesenheitsnotiz im Webmail ein.\n"
    store.save(new)
    retriever.reindex([new.id])
    assert retriever.search("Abwesenheitsnotiz Webmail").results[0].article_id == new.id


def test_kb_changed_while_stopped_is_detected_as_stale(settings: Settings) -> None:
    _retriever(settings)[0].load()
    store = ArticleStore(settings.kb_dir)
    article = store.get(13)
    article.title = "Domaintransfer neu anstoßen"
    store.save(article)
    retriever, embedder = _retriever(settings)
    report = retriever.load()
    assert not report.loaded_from_disk
    # Only the units of that article (all carry its title) are encoded again.
    assert 0 < embedder.encoded == report.encoded < 40
    assert retriever.search("Domaintransfer neu anstoßen").results[0].title == article.title


@pytest.mark.parametrize("damaged", ["vectors.npy", "dense.faiss", "lexical.pkl", "manifest.json"])
def test_corrupt_index_files_are_rebuilt_never_served(settings: Settings, damaged: str) -> None:
    _retriever(settings)[0].load()
    path: Path = settings.index_dir / damaged
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data[: len(data) - 7]))
    retriever, _ = _retriever(settings)
    report = retriever.load()
    assert not report.loaded_from_disk
    assert retriever.search("Rechnungsadresse hinzufügen").results[0].article_id == 3
    assert _retriever(settings)[0].load().loaded_from_disk


def test_other_model_invalidates_the_index(settings: Settings) -> None:
    _retriever(settings)[0].load()
    other = FakeEmbedder()
    other.model_id = "another-model"
    retriever = Retriever(settings, embedder=other)
    assert not retriever.load().loaded_from_disk
    assert other.encoded == retriever.last_report.encoded > 100


@pytest.mark.parametrize("query", ["", "   ", "\x00\x01\x02", "\n\t"])
def test_empty_queries_are_rejected_clearly(settings: Settings, query: str) -> None:
    retriever, _ = _retriever(settings)
    with pytest.raises(QueryError, match="Bitte geben Sie eine Frage ein"):
        retriever.search(query)


def test_huge_and_odd_queries_get_sane_answers(settings: Settings) -> None:
    retriever, _ = _retriever(settings)
    huge = "Rechnungsadresse " * 6000  # ~100,000 characters
    response = retriever.search(huge)
    assert response.query == huge and response.results
    odd = retriever.search("Rechnung\x00sadresse \ud800 \u202e hinzufügen 🙂")
    assert odd.results
    assert not retriever.answer("\x1b[31m").answerable


def test_top_k_is_bounded(settings: Settings) -> None:
    retriever, _ = _retriever(settings)
    assert len(retriever.search("Konto", k=3).results) == 3
    assert len(retriever.search("Konto", k=10_000).results) <= 20


def test_approximate_index_above_the_threshold(settings: Settings) -> None:
    import dataclasses

    small = dataclasses.replace(settings, ann_threshold=50)
    retriever, _ = _retriever(small)
    retriever.load()
    assert retriever.index.dense.approximate
    assert retriever.search("Renewal Warranty").results[0].article_id == 4
    again, _ = _retriever(small)
    assert again.load().loaded_from_disk and again.index.dense.approximate


def test_changing_the_out_of_scope_list_rebuilds(settings: Settings) -> None:
    _retriever(settings)[0].load()
    path = settings.kb_dir / "out_of_scope.yml"
    path.write_text(path.read_text(encoding="utf-8") + "  - Wie bestelle ich Visitenkarten?\n")
    retriever, embedder = _retriever(settings)
    report = retriever.load()
    assert not report.loaded_from_disk and embedder.queries_encoded == report.encoded == 1


def test_hnsw_graph_is_updated_in_place_and_compacted_later(settings: Settings) -> None:
    import dataclasses

    small = dataclasses.replace(settings, ann_threshold=50)
    retriever, _ = _retriever(small)
    retriever.load()
    _add_pigeon_section(small)
    retriever.reindex([7])
    dense = retriever.index.dense
    assert dense.approximate and dense.tombstones > 0  # updated, not rebuilt
    assert retriever.search("Newsletter per Brieftaube").results[0].article_id == 7
    again, _ = _retriever(small)
    assert again.load().loaded_from_disk and again.index.dense.tombstones == dense.tombstones
    assert again.search("Newsletter per Brieftaube").results[0].article_id == 7
    for _round in range(3):  # replace most vectors: the graph must be rebuilt compactly
        retriever.reindex(list(range(1, 21)))
    assert retriever.index.dense.tombstones < 0.2 * retriever.index.dense.size
    assert retriever.search("Renewal Warranty").results[0].article_id == 4
