"""German spelled without umlauts, for the KB's own matching and file names.

The search index folds differently on purpose (``retrieval.text.fold_for_index``: umlauts
to the bare vowel, accents dropped, "ae" read as "ä"); this module is the KB's one umlaut
table, used by the editor's catalog search and by file names.
"""

from __future__ import annotations

# Capitals map to lower-case digraphs: file names are lower-case, and catalog search has
# case-folded its text before.
_DIGRAPHS = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue"}
)


def umlauts_as_digraphs(text: str) -> str:
    """ä -> ae, Ö -> oe, ß -> ss: how German is written where umlauts cannot be."""
    return text.translate(_DIGRAPHS)


def fold_for_catalog_search(text: str) -> str:
    """Case and umlaut folding, so that "Ändern", "ändern" and "aendern" all match.

    Differs from the index fold because the catalog is a substring filter over what editors
    wrote: "ä" becomes "ae", never a bare "a" (so "art" does not find "Kärtchen"), and
    accents stay."""
    return umlauts_as_digraphs(text.casefold())
