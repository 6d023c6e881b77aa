"""kb.folding: the KB's one umlaut table, for catalog search and file names."""

from __future__ import annotations

from kb.folding import fold_for_catalog_search, umlauts_as_digraphs
from kb.store import slugify


def test_catalog_search_makes_umlaut_spellings_meet() -> None:
    assert fold_for_catalog_search("Ändern") == fold_for_catalog_search("aendern") == "aendern"
    assert fold_for_catalog_search("ÄNDERN") == fold_for_catalog_search("ändern")
    assert fold_for_catalog_search("Straße") == fold_for_catalog_search("STRASSE") == "strasse"
    assert fold_for_catalog_search("Straẞe") == "strasse"  # capital ß, via casefold


def test_catalog_search_keeps_what_the_index_fold_drops() -> None:
    # A substring filter over what editors wrote: "ä" is never a bare "a", accents stay.
    assert "art" not in fold_for_catalog_search("Kärtchen")
    assert fold_for_catalog_search("désactiver") == "désactiver"
    assert fold_for_catalog_search("Michael") == "michael"


def test_file_names_use_the_same_umlaut_table() -> None:
    assert umlauts_as_digraphs("Ärger über Größe") == "aerger ueber Groesse"
    assert slugify("Domainübertragung erneut starten") == "domainuebertragung-erneut-starten"
    assert slugify("ÄÖÜ ß") == "aeoeue-ss"
    # No case folding before the table, unlike catalog search: file names stay as they were.
    assert slugify("Straẞe") == "strae"
