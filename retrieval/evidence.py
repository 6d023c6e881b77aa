"""What speaks for and against a guide being *the* answer to a question, beyond closeness.

- **Confidence**: the cohort statistic of :mod:`retrieval.confidence` (closer to the guide
  than to any question the KB must not answer).
- **Coverage**: the share of the question's salient words that the guide contains, as a stem,
  a synonym of the editors' list or a near spelling (4-grams). A word is salient by how rare
  it is in everyday language (``wordfreq``), so "PayPal", "PDF" or "Outlook" weigh much,
  "finde" or "bekomme" little. e5 puts "Kann ich mit PayPal bezahlen?" next to the payment
  guide; the missing "PayPal" says it is not that guide's answer.
- **Action**: the question's action against the guide's (title and headings): "2FA
  einschalten" is not answered by "2FA deaktivieren" (:mod:`retrieval.actions`).
- **Margin**: how far the best guide stands above the next one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from wordfreq import zipf_frequency

from retrieval import confidence as conf
from retrieval.actions import action_conflict, action_mismatch
from retrieval.index_store import SearchIndex
from retrieval.ranking import ArticleHit
from retrieval.synonyms import SynonymIndex
from retrieval.text import STOPWORDS, char_ngrams, clean, fold_for_index, stems

LANGS = ("de", "en", "fr")
# Everyday words (Zipf frequency >= this) carry no topic; rarer ones weigh more, up to
# MAX_WEIGHT for words no word list knows (product names, typos, compounds).
COMMON_ZIPF = 5.0
MAX_WEIGHT = 3.0
MIN_WORD_CHARS = 3
# A word counts as present when this share of its 4-grams is in the guide (typos, compounds).
GRAM_SHARE = 0.6


@dataclass(frozen=True)
class Evidence:
    article_id: int
    score: float
    confidence: float
    coverage: float  # weighted share of the question's salient words found in the guide
    missing: tuple[str, ...]  # salient words not found, most salient first
    action_conflict: str  # "" or what conflicts, e.g. "aktivieren ≠ deaktivieren"
    margin: float  # this guide's score minus the next one's (the last: its own score)
    action_mismatch: str = ""  # the question's action is not the one the title names
    content: float = 1.0  # total weight of the question's salient words (0: none at all)
    judge: float | None = None  # the optional judge model's say (see retrieval.judge)


@dataclass(frozen=True)
class SalientWord:
    word: str  # folded
    stem: str
    weight: float
    synonym_groups: tuple[int, ...]
    separable: tuple[str, ...] = ()  # stems with a trailing particle joined ("hinzufug")


def language(folded_words: list[str]) -> str:
    """The question's language among de/en/fr, by the everyday frequency of its words."""
    if not folded_words:
        return "de"
    totals = {lang: sum(_zipf(w, lang) for w in folded_words) for lang in LANGS}
    return max(LANGS, key=lambda lang: (totals[lang], lang == "de"))


def warm_up() -> None:
    """Load the word frequency lists now: the first look-up in a process takes half a
    second, which the first customer should not wait for."""
    for lang in LANGS:
        _zipf("und", lang)


@lru_cache(maxsize=65536)
def _zipf(word: str, lang: str) -> float:
    return zipf_frequency(word, lang)


_TOKEN = re.compile(r"[^\W_]+")  # French elisions (l'adresse) split


def salient_words(text: str, synonyms: SynonymIndex) -> list[SalientWord]:
    # Frequencies are looked up as written ("nächste"), matching is done folded ("nachste").
    tokens = [t for t in _TOKEN.findall(clean(text).casefold()) if not t.isdigit()]
    lang = language(tokens)
    groups = synonyms.groups_by_stem(fold_for_index(text))
    found: dict[str, SalientWord] = {}
    folded_tokens = [fold_for_index(t) for t in tokens]
    for position, (token, word) in enumerate(zip(tokens, folded_tokens, strict=True)):
        if word in STOPWORDS or word in PARTICLES or len(word) < MIN_WORD_CHARS:
            continue
        weight = min(MAX_WEIGHT, max(0.0, COMMON_ZIPF - _zipf(token, lang)))
        if weight <= 0:
            continue
        stem = (stems(word) or [word])[0]
        if stem not in found:
            joined = _separable_forms(word, folded_tokens[position + 1 :]) if lang == "de" else ()
            found[stem] = SalientWord(word, stem, weight, tuple(groups.get(stem, ())), joined)
    return list(found.values())


# German separable verbs put their particle at the end: "Wie füge ich … hinzu?" asks for
# "hinzufügen", "Wo lade ich … herunter?" for "herunterladen".
PARTICLES = (
    *("ab", "an", "auf", "aus", "ein", "fest", "frei", "her", "herunter", "hinzu", "mit"),
    *("nach", "runter", "um", "vor", "weg", "wieder", "zu", "zuruck", "zusammen"),
)
PARTICLE_REACH = 8  # words between the verb and its particle at most


def _separable_forms(word: str, following: list[str]) -> tuple[str, ...]:
    """Stems of the word joined with a verb particle that follows it in the sentence."""
    reach = following[:PARTICLE_REACH]
    return tuple(
        (stems(particle + word) or [particle + word])[0]
        for particle in dict.fromkeys(reach)
        if particle in PARTICLES
    )


def coverage(
    index: SearchIndex, article_id: int, salient: list[SalientWord]
) -> tuple[float, tuple[str, ...]]:
    """Weighted share of the salient words found in the article, and the missing ones."""
    total = sum(w.weight for w in salient)
    if total <= 0:
        return 1.0, ()
    rows = index.article_rows(article_id)
    word_index, gram_index = index.lexical.words, index.lexical.grams
    word_rows = word_index.tf[rows]
    present_words = set(word_rows.indices[word_rows.data > 0].tolist())
    gram_rows = gram_index.tf[rows]
    present_grams = set(gram_rows.indices[gram_rows.data > 0].tolist())
    missing: list[SalientWord] = []
    for word in salient:
        if any(_has(word_index.vocabulary, present_words, s) for s in (word.stem, *word.separable)):
            continue
        if any(_has(word_index.vocabulary, present_words, f"syn{g}") for g in word.synonym_groups):
            continue
        grams = char_ngrams(word.word)
        if grams:
            share = sum(_has(gram_index.vocabulary, present_grams, g) for g in grams) / len(grams)
            if share >= GRAM_SHARE:
                continue
        missing.append(word)
    lost = sum(w.weight for w in missing)
    missing.sort(key=lambda w: -w.weight)
    return (total - lost) / total, tuple(w.word for w in missing)


def guide_texts(index: SearchIndex, hit: ArticleHit, sections: int = 2) -> list[str]:
    """What a judge model reads of a guide: its title and its best sections."""
    info = index.articles[hit.article_id]
    return [info.title, *(index.chunks[row].text for row in hit.rows[:sections])]


def _has(vocabulary: dict[str, int], present: set[int], term: str) -> bool:
    column = vocabulary.get(term)
    return column is not None and column in present


def gather(
    index: SearchIndex,
    query: str,
    hits: list[ArticleHit],
    synonyms: SynonymIndex,
    thresholds: conf.Thresholds = conf.DEFAULT_THRESHOLDS,
) -> list[Evidence]:
    """Evidence for each ranked hit (best first)."""
    if not hits:
        return []
    salient = salient_words(query, synonyms)
    scores = np.asarray([h.score for h in hits] + [0.0])
    evidence = []
    for i, hit in enumerate(hits):
        share, missing = coverage(index, hit.article_id, salient)
        info = index.articles[hit.article_id]
        headings = [index.chunks[r].section for r in index.article_rows(hit.article_id)]
        evidence.append(
            Evidence(
                article_id=hit.article_id,
                score=hit.score,
                confidence=conf.confidence(hit, thresholds),
                coverage=share,
                missing=missing,
                action_conflict=action_conflict(query, info.title, headings),
                action_mismatch=action_mismatch(query, info.title),
                content=sum(w.weight for w in salient),
                margin=float(scores[i] - scores[i + 1]) if i + 1 < len(hits) else hit.score,
            )
        )
    return evidence
