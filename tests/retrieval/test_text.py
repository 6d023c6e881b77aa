from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import REPO_ROOT
from kb.folding import fold_for_catalog_search
from retrieval.lexical import BM25Index
from retrieval.synonyms import SynonymIndex
from retrieval.text import char_ngrams, clean, fold_for_index, stems, words
from retrieval.units import sentences


def test_folding_makes_spellings_meet() -> None:
    assert {fold_for_index(s) for s in ("Löschen", "loeschen", "LOESCHEN")} == {"loschen"}
    assert fold_for_index("Straße") == "strasse"
    assert fold_for_index("Quelle") == "quelle"  # "ue" after q is no umlaut
    assert fold_for_index("désactiver") == "desactiver"


def test_index_fold_differs_from_catalog_search_on_purpose() -> None:
    # Both make "Ä", "ä" and "ae" meet, but the index folds to the bare vowel and drops
    # accents (one token for stems and n-grams); the catalog keeps the digraph for a
    # substring filter over what editors wrote.
    for spelling in ("Ärger", "ärger", "Aerger"):
        assert fold_for_index(spelling) == "arger"
        assert fold_for_catalog_search(spelling) == "aerger"
    assert fold_for_index("désactiver") == "desactiver" != fold_for_catalog_search("désactiver")
    assert "art" in fold_for_index("Kärtchen") and "art" not in fold_for_catalog_search("Kärtchen")
    assert fold_for_index("Straẞe") == fold_for_catalog_search("Straẞe") == "strasse"
    assert fold_for_index("ﬁnden") == fold_for_catalog_search("ﬁnden") == "finden"
    assert fold_for_index("İ") == "i" != fold_for_catalog_search("İ")  # combining dot kept


def test_words_split_compounds_and_keep_the_whole() -> None:
    assert words(fold_for_index("Zwei-Faktor-Authentifizierung")) == [
        "zwei",
        "faktor",
        "authentifizierung",
        "zweifaktorauthentifizierung",
    ]


def test_stems_join_inflections_and_drop_stop_words() -> None:
    assert stems(fold_for_index("Rechnungen")) == stems(fold_for_index("Rechnung"))
    assert stems(fold_for_index("Wie kann ich das deaktivieren?")) == stems(
        fold_for_index("deaktivieren")
    )


def test_char_ngrams_survive_typos() -> None:
    right = set(char_ngrams(fold_for_index("Authentifizierung")))
    typo = set(char_ngrams(fold_for_index("authentifizirung")))
    assert len(right & typo) / len(right) > 0.6


def test_clean_removes_control_and_bidi_characters() -> None:
    assert clean("a\x00b\u202ec\ud800d") == "a b c d"


def test_synonyms_from_the_kb_list() -> None:
    synonyms = SynonymIndex.load(REPO_ROOT / "kb" / "synonyms.yml")
    assert synonyms.tokens(fold_for_index("Kennwort")) == synonyms.tokens(
        fold_for_index("Passwort")
    )
    assert synonyms.tokens(fold_for_index("2FA")) == synonyms.tokens(
        fold_for_index("Zwei-Faktor-Authentifizierung")
    )
    assert synonyms.tokens(fold_for_index("Mahnung")) == synonyms.tokens(
        fold_for_index("Zahlungserinnerung")
    )
    assert synonyms.tokens(fold_for_index("Wetter")) == []


def test_a_query_is_expanded_with_the_words_of_the_groups_it_names() -> None:
    synonyms = SynonymIndex.from_groups(
        (("Rechnungsadresse", "billing address"), ("aktivieren", "einschalten", "enable"))
    )
    assert synonyms.expanded("Wie aktiviere ich die billing address?") == (
        "Wie aktiviere ich die billing address? (einschalten, enable, Rechnungsadresse)"
    )
    assert synonyms.expanded("Rechnungsadresse, billing address") == (
        "Rechnungsadresse, billing address"
    )
    assert synonyms.expanded("Wetter") == "Wetter"
    assert SynonymIndex.from_groups(()).expanded("Rechnungsadresse") == "Rechnungsadresse"


def test_missing_synonym_file_is_no_error(tmp_path: Path) -> None:
    assert SynonymIndex.load(tmp_path / "none.yml").tokens("passwort") == []


def test_bm25_ranks_the_matching_document_first_and_reports_coverage() -> None:
    index = BM25Index.build([["rechnung", "adress"], ["passwort", "vergess"], ["rechnung"]])
    query = index.query(["rechnung", "adress"])
    assert index.scores(query).argmax() == 0
    assert index.coverage_union(query, [0]) == pytest.approx(1.0)
    partial = index.coverage_union(query, [2])
    assert 0.0 < partial < 1.0
    assert index.coverage_union(query, [1, 2]) == pytest.approx(partial)
    assert index.coverage_union(index.query(["wordpress"]), [0]) == 0.0
    empty = BM25Index.build([])
    assert empty.scores(empty.query(["x"])).size == 0


def test_long_paragraphs_are_cut_into_sentences() -> None:
    text = "Kurz.\n" + "Ein Satz mit einigen Wörtern darin. " * 10
    parts = sentences(text)
    assert parts[0] == "Kurz." and len(parts) == 11


def test_bm25_update_equals_a_fresh_build() -> None:
    import random

    import numpy as np

    rng = random.Random(1)
    vocabulary = [f"w{i}" for i in range(50)]
    docs = [[rng.choice(vocabulary) for _ in range(rng.randint(0, 12))] for _ in range(30)]
    old = BM25Index.build(docs)
    kept = [i for i in range(len(docs)) if rng.random() > 0.3]
    added = [[rng.choice([*vocabulary, "neu1", "neu2"]) for _ in range(5)] for _ in range(4)]
    new_docs = [docs[i] for i in kept] + added
    reuse = kept + [-1] * len(added)
    updated = old.updated(reuse, [None] * len(kept) + added)
    fresh = BM25Index.build(new_docs)
    for query in (["w1", "w2"], ["neu1"], ["w7", "neu2", "w3"]):
        assert np.allclose(
            updated.scores(updated.query(query)), fresh.scores(fresh.query(query)), atol=1e-5
        )
