"""Text analysis for German lexical search: folding, words, stems and character n-grams.

Customers type without umlauts ("loeschen"), with typos and with compounds
("Rechnungsadresse" vs "Adresse der Rechnung"): folding makes spellings meet, Snowball
stems join inflections, and character 4-grams match inside compounds and across typos.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import Stemmer

_FOLD = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss"})
# "ae/oe/ue" written for an umlaut; not after "q" ("Quelle") or "e" ("neue"), folded alike in
# queries and documents, so the rare false fold costs nothing.
_DIGRAPH = re.compile(r"(?<![qe])([aou])e")
_WORD = re.compile(r"[0-9a-z]+(?:[-'][0-9a-z]+)*")
# Control characters, lone surrogates (from broken input) and bidi/zero-width format marks.
_CONTROL = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)
NGRAM = 4

STOPWORDS = frozenset(
    word
    for line in (Path(__file__).with_name("stopwords.txt")).read_text(encoding="utf-8").splitlines()
    if not line.startswith("#")
    for word in line.split()
)


def clean(text: str) -> str:
    """Unicode-normalise and drop control characters (keeps newlines and tabs)."""
    return _CONTROL.sub(" ", unicodedata.normalize("NFKC", text))


# Not kb.folding.fold_for_catalog_search: the index matches words, stems and n-grams, so
# "Löschen", "loeschen" and "loschen" must become one token (ä -> a, "oe" -> o, no accents).
def fold_for_index(text: str) -> str:
    """Lower-case, umlauts and their ASCII spellings to the base vowel, accents removed."""
    text = clean(text).casefold().translate(_FOLD)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return _DIGRAPH.sub(r"\1", text)


def words(folded: str) -> list[str]:
    """Words of folded text; a hyphenated compound yields its parts and the joined whole."""
    out: list[str] = []
    for match in _WORD.finditer(folded):
        token = match.group(0)
        parts = re.split(r"[-']", token)
        if len(parts) > 1:
            out.extend(p for p in parts if p)
            out.append("".join(parts))
        else:
            out.append(token)
    return out


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("german")


def stems(folded: str) -> list[str]:
    """Stemmed content words (stop words dropped)."""
    tokens = [w for w in words(folded) if w not in STOPWORDS]
    return _stemmer().stemWords(tokens)


def char_ngrams(folded: str, n: int = NGRAM) -> list[str]:
    """Character n-grams of each content word, with word-boundary markers."""
    grams: list[str] = []
    for word in words(folded):
        if word in STOPWORDS or "-" in word:
            continue
        padded = f"_{word}_"
        if len(padded) <= n:
            grams.append(padded)
        else:
            grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams
