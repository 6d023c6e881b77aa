"""The stored parsed corpus: used only while every KB file is unchanged (fake model)."""

from __future__ import annotations

import os

import pytest

from core.settings import Settings
from kb.store import ArticleStore
from retrieval import corpus_cache
from retrieval import retriever as service_module
from retrieval.retriever import Retriever
from tests.fakes import FakeEmbedder


def _start(settings: Settings) -> Retriever:
    retriever = Retriever(settings, embedder=FakeEmbedder())
    retriever.load()
    return retriever


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts how often the KB files are parsed into a corpus."""
    calls: list[int] = []
    original = service_module.load_corpus

    def counting(store: ArticleStore):
        calls.append(1)
        return original(store)

    monkeypatch.setattr(service_module, "load_corpus", counting)
    return calls


def test_unchanged_kb_starts_from_the_stored_corpus(settings: Settings, parses: list[int]) -> None:
    first = _start(settings)
    assert len(parses) == 1 and (settings.index_dir / corpus_cache.FILE_NAME).exists()
    second = _start(settings)
    assert len(parses) == 1 and second.last_report.loaded_from_disk
    query = "Rechnungsadresse hinzufügen"
    assert second.search(query).to_dict()["results"] == first.search(query).to_dict()["results"]
    assert second.index.chunks[0].text == first.index.chunks[0].text


def test_an_edit_that_keeps_size_and_mtime_is_still_seen(
    settings: Settings, parses: list[int]
) -> None:
    _start(settings)
    path = ArticleStore(settings.kb_dir).get(4).path
    before = os.stat(path)
    text = path.read_text(encoding="utf-8")
    assert "Renewal Warranty" in text
    path.write_text(text.replace("Renewal Warranty", "Renewal Warrantx"), encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # as `touch -r` would
    retriever = _start(settings)
    assert len(parses) == 2 and not retriever.last_report.loaded_from_disk
    assert "Renewal Warrantx" in retriever.search("Renewal Warrantx").results[0].title


def test_new_and_removed_files_are_seen(settings: Settings, parses: list[int]) -> None:
    _start(settings)
    store = ArticleStore(settings.kb_dir)
    new = store.get(1)
    new.id, new.path, new.source = store.next_id(), None, None
    new.title = "Webmail Abwesenheitsnotiz einrichten"
    store.save(new)
    assert _start(settings).search("Abwesenheitsnotiz").results[0].article_id == new.id
    new.path.unlink()
    retriever = _start(settings)
    assert len(parses) == 3
    assert all(r.article_id != new.id for r in retriever.search("Abwesenheitsnotiz", 20).results)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "other object"])
def test_damaged_stored_corpus_means_parsing_again(
    settings: Settings, parses: list[int], damage: str
) -> None:
    _start(settings)
    path = settings.index_dir / corpus_cache.FILE_NAME
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "garbage":
        path.write_bytes(b"\x80\x05nonsense")
    else:
        import pickle

        path.write_bytes(pickle.dumps({"stamp": "x", "corpus": [1, 2]}))
    retriever = _start(settings)
    assert len(parses) == 2 and retriever.last_report.loaded_from_disk
    assert retriever.search("Rechnungsadresse hinzufügen").results[0].article_id == 3
    _start(settings)
    assert len(parses) == 2  # the damaged file was replaced


def test_changing_the_synonym_list_rebuilds_the_lexical_index(settings: Settings) -> None:
    """Documents' synonym tokens live in the stored BM25 index: a new group must reach them."""
    retriever = _start(settings)
    query = "Brieftaubenpost"
    before = retriever.search(query, mode="lexical").results
    assert not before or before[0].article_id != 4
    path = settings.kb_dir / "synonyms.yml"
    path.write_text(
        path.read_text(encoding="utf-8") + "  - [Brieftaubenpost, Renewal Warranty]\n",
        encoding="utf-8",
    )
    again = Retriever(settings, embedder=FakeEmbedder())
    assert not again.load().loaded_from_disk
    assert again.search(query, mode="lexical").results[0].article_id == 4
