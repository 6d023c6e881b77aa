"""Re-scoring questions, previewing a draft on a private index, reloading the out-of-scope
list (retrieval/preview.py): the mechanics with the fake model, the effect with the real one."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from core.settings import Settings
from kb.store import ArticleStore
from retrieval.corpus import ScopeError, scope_topics
from retrieval.preview import (
    DRAFT_ID,
    draft_article,
    index_with_draft,
    preview,
    reload_scope,
    rescore,
)
from retrieval.ranking import AnalyzedQuery, rank
from retrieval.retriever import Retriever
from retrieval.units import BACKGROUND
from tests.fakes import FakeEmbedder

PIGEON = {
    "id": None,
    "title": "Zustellung per Brieftaube",
    "markdown": (
        "Diese Anleitung erklärt die Zustellung per Brieftaube.\n\n"
        "## Brieftaube bestellen\n\n"
        "- Öffnen Sie den Taubenschlag im Manager.\n"
        "- Wählen Sie eine Brieftaube und den Empfänger.\n"
    ),
    "lang": "de",
}


def _fake(settings: Settings) -> tuple[Retriever, FakeEmbedder]:
    embedder = FakeEmbedder()
    retriever = Retriever(settings, embedder=embedder)
    retriever.load()
    return retriever, embedder


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def _top(retriever: Retriever, index, query: str) -> int:
    vector = retriever.embedder.encode_queries([retriever.synonyms.expanded(query)])[0]
    return rank(index, AnalyzedQuery.of(query, retriever.synonyms), vector, 1)[0].article_id


# --- rescore -----------------------------------------------------------------------------


def test_rescore_gives_search_verdicts(settings: Settings):
    retriever, _ = _fake(settings)
    queries = ["Rechnungsadresse hinzufügen", "Renewal Warranty", "Wie installiere ich WordPress?"]
    results = rescore(retriever, queries)
    assert [r["query"] for r in results] == queries
    for result, query in zip(results, queries, strict=True):
        found = retriever.search(query, 5)
        assert set(result) == {"query", "verdict", "article_id", "title", "choices", "confidence"}
        assert result["verdict"] == found.verdict
        assert result["choices"] == found.choices
        assert result["confidence"] == round(found.confidence, 4)
        if found.verdict == "answer":
            assert result["article_id"] == found.results[0].article_id
            assert result["title"] == found.results[0].title
        else:
            assert result["article_id"] is None and result["title"] == ""


def test_rescore_takes_empty_and_invalid_questions_as_not_covered(settings: Settings):
    retriever, _ = _fake(settings)
    results = rescore(retriever, ["", "   \n", None, 42])  # type: ignore[list-item]
    assert [r["query"] for r in results] == ["", "   \n", "", ""]
    for result in results:
        assert result["verdict"] == "not_covered"
        assert result["article_id"] is None and result["title"] == ""
        assert result["choices"] == [] and result["confidence"] == 0.0


# --- preview -----------------------------------------------------------------------------


def test_preview_adds_the_draft_to_a_private_index_only(settings: Settings):
    retriever, embedder = _fake(settings)
    live = retriever.index
    chunks, fingerprint = list(live.chunks), live.fingerprint
    stored = _files(settings.index_dir)
    kb_files = _files(settings.kb_dir)
    passages = embedder.passages_encoded

    trial = index_with_draft(retriever, live, draft_article(PIGEON, live))
    draft_units = int((trial.units.articles == DRAFT_ID).sum())
    # Only the draft's units were encoded (whole article, sections, sentences).
    assert trial.encoded == draft_units == embedder.passages_encoded - passages > 0
    assert trial.articles[DRAFT_ID].title == PIGEON["title"]
    assert set(trial.articles) == set(live.articles) | {DRAFT_ID}
    assert (
        trial.units.texts[trial.units.n_searchable :] == live.units.texts[live.units.n_searchable :]
    )
    assert _top(retriever, trial, "Zustellung per Brieftaube") == DRAFT_ID

    found = preview(retriever, PIGEON, ["Zustellung per Brieftaube", ""])
    assert set(found) == {"results", "scope_topics"} and found["scope_topics"] == []
    results = found["results"]
    assert [set(r) for r in results] == [{"query", "before", "after", "changed"}] * 2
    assert (
        results[1]["before"]
        == results[1]["after"]
        == {
            "verdict": "not_covered",
            "article_id": None,
        }
    )
    assert results[1]["changed"] is False
    for result in results:
        assert result["changed"] == (result["before"] != result["after"])

    # Nothing live changed: the index object, its contents, its files, the KB.
    assert retriever.index is live
    assert live.chunks == chunks and live.fingerprint == fingerprint
    assert DRAFT_ID not in live.articles
    assert _top(retriever, live, "Zustellung per Brieftaube") != DRAFT_ID
    assert _files(settings.index_dir) == stored
    assert _files(settings.kb_dir) == kb_files


def test_a_draft_with_an_existing_id_replaces_that_article(settings: Settings):
    retriever, _ = _fake(settings)
    live = retriever.index
    draft = {**PIGEON, "id": 3}
    trial = index_with_draft(retriever, live, draft_article(draft, live))
    assert set(trial.articles) == set(live.articles)
    info, old = trial.articles[3], live.articles[3]
    assert info.title == PIGEON["title"]
    assert (info.path, info.category) == (old.path, old.category)
    replaced = [c for c in trial.chunks if c.article_id == 3]
    assert all(c.title == PIGEON["title"] for c in replaced)
    assert not any("Rechnungsadresse" in c.text for c in replaced)
    others = [c for c in trial.chunks if c.article_id != 3]
    assert others == [c for c in live.chunks if c.article_id != 3]
    assert _top(retriever, trial, "Zustellung per Brieftaube") == 3


def test_preview_without_questions_still_names_blocking_topics(settings: Settings):
    retriever, _ = _fake(settings)
    found = preview(retriever, PIGEON, [])
    assert found["results"] == [] and isinstance(found["scope_topics"], list)


# --- reload_scope ------------------------------------------------------------------------


def _add_topic(kb_dir: Path, topic: str) -> int:
    path = kb_dir / "out_of_scope.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["topics"].append(topic)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return len(data["topics"])


def test_reload_scope_puts_a_new_topic_in_effect_at_once(settings: Settings):
    retriever, embedder = _fake(settings)
    topic = "Kann ich mit Brieftauben bezahlen?"
    count = _add_topic(settings.kb_dir, topic)
    queries, passages = embedder.queries_encoded, embedder.passages_encoded
    assert reload_scope(retriever) == count == len(scope_topics(retriever.store))
    assert topic in retriever.background
    units = retriever.index.units
    background = [
        t for t, k in zip(units.texts, units.kinds.tolist(), strict=True) if k == BACKGROUND
    ]
    assert background == retriever.background
    # Only the new topic was encoded; everything else came from the stored vectors.
    assert embedder.queries_encoded - queries == 1
    assert embedder.passages_encoded == passages
    vector = FakeEmbedder().encode_queries([topic])[0]
    assert np.isclose(retriever.index.background @ vector, 1.0, atol=1e-5).any()
    # Stored: a restart loads this index as is.
    again, embedder2 = _fake(settings)
    assert again.last_report.loaded_from_disk and embedder2.encoded == 0
    assert topic in again.background


@pytest.mark.parametrize(
    "content",
    ["topics: [unclosed\n", "topics: nur ein Text\n", "- eine\n- Liste\n", "topics:\n  - {a: 1}\n"],
)
def test_a_broken_scope_file_changes_nothing(settings: Settings, content: str):
    retriever, _ = _fake(settings)
    live, background = retriever.index, list(retriever.background)
    (settings.kb_dir / "out_of_scope.yml").write_text(content, encoding="utf-8")
    with pytest.raises(ScopeError, match=r"out_of_scope\.yml"):
        reload_scope(retriever)
    assert retriever.index is live and retriever.background == background


def test_no_scope_file_means_no_topics(settings: Settings):
    (settings.kb_dir / "out_of_scope.yml").unlink()
    retriever, _ = _fake(settings)
    assert reload_scope(retriever) == 0


# --- the real model ----------------------------------------------------------------------

PAYPAL_DRAFT = {
    "title": "Mit PayPal bezahlen",
    "markdown": (
        "Diese Anleitung erklärt, wie Sie Ihre Rechnungen mit PayPal bezahlen.\n\n"
        "## PayPal als Zahlungsmethode wählen\n\n"
        "- Öffnen Sie im Manager den Bereich Rechnungen.\n"
        "- Wählen Sie bei der offenen Rechnung die Zahlungsart PayPal.\n"
        "- Melden Sie sich bei PayPal an und bestätigen Sie die Zahlung.\n"
    ),
    "lang": "de",
}
PAYPAL = "Kann ich mit PayPal bezahlen?"
UNRELATED = "Wie ändere ich meine Rechnungsadresse?"


def _search(retriever: Retriever, query: str) -> dict:
    found = retriever.search(query).to_dict()
    found.pop("took_ms")
    return found


@pytest.mark.slow
def test_a_paypal_draft_would_answer_the_paypal_question(
    real_retriever: Retriever, real_settings: Settings
):
    live = real_retriever.index
    stored = _files(real_settings.index_dir)
    searched = {q: _search(real_retriever, q) for q in (PAYPAL, UNRELATED)}
    new_id = ArticleStore(real_settings.kb_dir).next_id()

    found = preview(real_retriever, {"id": new_id, **PAYPAL_DRAFT}, [PAYPAL, UNRELATED])
    paypal, unrelated = found["results"]
    assert found["scope_topics"] == []  # no topic on the list is about paying
    assert paypal["before"]["article_id"] != new_id
    assert paypal["after"] == {"verdict": "answer", "article_id": new_id}
    assert paypal["changed"] is True
    assert unrelated["after"] == unrelated["before"] == {"verdict": "answer", "article_id": 3}
    assert unrelated["changed"] is False
    # A draft without an id is the same article under DRAFT_ID.
    [anonymous] = preview(real_retriever, {"id": None, **PAYPAL_DRAFT}, [PAYPAL])["results"]
    assert anonymous["after"] == {"verdict": "answer", "article_id": DRAFT_ID}

    # The live index is untouched: same object, same answers, same files.
    assert real_retriever.index is live
    assert {q: _search(real_retriever, q) for q in searched} == searched
    assert _files(real_settings.index_dir) == stored


@pytest.mark.slow
def test_a_reloaded_topic_stops_answers_at_once(real_settings: Settings, tmp_path: Path):
    root = tmp_path / "own"
    shutil.copytree(real_settings.kb_dir, root / "kb")
    shutil.copytree(
        real_settings.index_dir, root / "var" / "index", ignore=shutil.ignore_patterns(".lock")
    )
    settings = dataclasses.replace(
        real_settings, kb_dir=root / "kb", data_dir=root / "var", repo_root=root
    )
    retriever = Retriever(settings)
    retriever.load()
    [before] = rescore(retriever, [PAYPAL])
    assert before["verdict"] != "not_covered"
    _add_topic(settings.kb_dir, "Kann man bei euch mit PayPal bezahlen?")
    reload_scope(retriever)
    [after] = rescore(retriever, [PAYPAL])
    assert after["verdict"] == "not_covered" and after["article_id"] is None
    assert retriever.last_report is not None and retriever.last_report.encoded == 1


@pytest.mark.slow
def test_a_draft_on_a_listed_topic_names_the_topic_that_blocks_it(real_retriever: Retriever):
    wordpress = {
        "id": None,
        "title": "WordPress installieren",
        "lang": "de",
        "markdown": "## WordPress installieren\n\nÖffnen Sie im Manager Ihr Webhosting und "
        "klicken Sie auf „WordPress installieren“. Folgen Sie dem Assistenten.\n",
    }
    found = preview(real_retriever, wordpress, [])
    assert any("WordPress" in topic for topic in found["scope_topics"])
    assert all("DNS" not in topic for topic in found["scope_topics"])


def test_the_same_questions_are_grouped_once(settings: Settings):
    from retrieval.preview import topics_of

    retriever, embedder = _fake(settings)
    questions = ("Kann ich mit PayPal zahlen?", "PayPal als Zahlungsart?", "DNS ändern")
    first = topics_of(retriever, questions)
    encoded = embedder.queries_encoded
    assert topics_of(retriever, questions) == first
    assert embedder.queries_encoded == encoded  # the page's second view encodes nothing
    assert sorted(i for topic in first for i in topic["members"]) == [0, 1, 2]
    topics_of(retriever, questions[:2])
    assert embedder.queries_encoded > encoded  # another list is grouped anew
