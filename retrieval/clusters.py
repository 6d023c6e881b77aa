"""Customer questions grouped by topic, for the KB editors' "uncovered questions" list.

Complete-linkage agglomerative clustering on the cosine of the e5 query vectors: two
questions share a group only if *every* pair in it is at least ``MIN_SIMILARITY`` alike, so
the number of groups follows from the questions themselves and a chain of loosely related
questions never melts into one group. Deterministic (no random start).

e5 puts any two German support questions at a cosine of 0.8-0.9 and paraphrases at
0.87-0.97: a threshold on that narrow band holds for one set of questions and not the next.
So the vectors are first centred on the mean of the generic background questions
(``retrieval/data/background.txt``, see :func:`generic_center`): what every question shares
("this is a support question") drops out and topics spread apart. Measured with the real
model on seven groups of paraphrases (PayPal, Outlook/IMAP, DNS, WordPress, SSL,
cancellation, one lone question), the centred threshold finds exactly the seven anywhere in
0.30-0.45, the raw cosine only in 0.85-0.875. 0.40 keeps the groups of the near-domain
benchmark questions (bench/data/kb_questions_near.yml, by ``topic``) purest without
splitting them further.

Terms are words most of a group uses, in the group's own spelling; everyday words ("mehr",
"keine", "only": Zipf frequency of wordfreq >= 5 in the question's language) say nothing
about a topic and are left out, as in :mod:`retrieval.evidence`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from wordfreq import zipf_frequency

from retrieval.corpus import BACKGROUND_FILE
from retrieval.evidence import COMMON_ZIPF, language
from retrieval.index_store import SearchIndex
from retrieval.text import STOPWORDS, clean, fold_for_index, words

# Least cosine between any two questions of a group, on vectors centred by generic_center().
MIN_SIMILARITY = 0.40
# The same without a centre (raw e5 cosines): a much narrower margin, see the module notes.
MIN_SIMILARITY_RAW = 0.85
MAX_TERMS = 5
MIN_TERM_CHARS = 3


@dataclass
class Cluster:
    label: str  # the most central question
    terms: list[str]  # up to MAX_TERMS frequent salient words, as customers wrote them
    members: list[int] = field(default_factory=list)  # indices into the input, central first

    def to_dict(self) -> dict:
        return {"label": self.label, "terms": list(self.terms), "members": list(self.members)}


def generic_background() -> list[str]:
    """The generic questions shipped with the code (not the editors' out-of-scope list)."""
    lines = BACKGROUND_FILE.read_text(encoding="utf-8").splitlines()
    return list(dict.fromkeys(s.strip() for s in lines if s.strip() and not s.startswith("#")))


def generic_center(index: SearchIndex) -> np.ndarray | None:
    """The mean query vector of the generic background questions, read from the index (they
    are background units of every index); None if the index has none of them."""
    generic = set(generic_background())
    rows = [
        row
        for row in range(index.units.n_searchable, len(index.units))
        if index.units.texts[row] in generic
    ]
    if not rows:
        return None
    return index.vectors[rows].astype(np.float64).mean(axis=0)


def cluster_questions(
    vectors: np.ndarray,
    texts: list[str],
    *,
    center: np.ndarray | None = None,
    min_similarity: float | None = None,
) -> list[Cluster]:
    """Group the questions (one vector per text) by topic; biggest group first.

    ``center``: subtracted from every vector before the cosine (see :func:`generic_center`);
    ``min_similarity`` defaults to MIN_SIMILARITY with a centre, MIN_SIMILARITY_RAW without.
    """
    matrix = np.asarray(vectors, dtype=np.float64)
    if matrix.ndim != 2 or len(matrix) != len(texts):
        raise ValueError("one vector per question expected")
    if not len(texts):
        return []
    if center is not None:
        matrix = matrix - np.asarray(center, dtype=np.float64).reshape(1, -1)
    if min_similarity is None:
        min_similarity = MIN_SIMILARITY if center is not None else MIN_SIMILARITY_RAW
    unit = _normalized(matrix)
    if len(texts) == 1:
        labels = np.ones(1, dtype=np.int64)
    else:
        rows, cols = np.triu_indices(len(texts), k=1)  # scipy's condensed order
        distances = np.clip(1.0 - (unit @ unit.T)[rows, cols], 0.0, 2.0)
        tree = linkage(distances, method="complete")
        labels = fcluster(tree, t=1.0 - min_similarity, criterion="distance")
    groups: dict[int, list[int]] = {}
    for i, label in enumerate(labels.tolist()):
        groups.setdefault(label, []).append(i)
    salient = [_salient(text) for text in texts]
    frequency = Counter(word for found in salient for word in found)
    clusters = [_cluster(unit, texts, salient, members, frequency) for members in groups.values()]
    clusters.sort(key=lambda c: (-len(c.members), min(c.members)))
    return clusters


def _normalized(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def _cluster(
    unit: np.ndarray,
    texts: list[str],
    salient: list[dict[str, float]],
    members: list[int],
    frequency: Counter[str],
) -> Cluster:
    centroid = unit[members].mean(axis=0)
    closeness = unit[members] @ centroid
    ordered = [members[i] for i in sorted(range(len(members)), key=lambda i: (-closeness[i], i))]
    terms = _terms([salient[i] for i in ordered], frequency, [texts[i] for i in ordered])
    return Cluster(texts[ordered[0]], terms, ordered)


def _salient(text: str) -> dict[str, float]:
    """The question's content words, folded, with their everyday frequency (Zipf)."""
    tokens = words(fold_for_index(text).replace("-", " "))
    lang = language(tokens)
    found = {}
    for word in tokens:
        if word in STOPWORDS or len(word) < MIN_TERM_CHARS or word.isdigit():
            continue
        zipf = _zipf(word, lang)
        if zipf < COMMON_ZIPF:
            found[word] = zipf
    return found


@lru_cache(maxsize=65536)
def _zipf(word: str, lang: str) -> float:
    return zipf_frequency(word, lang)


def _terms(salient: list[dict[str, float]], frequency: Counter[str], texts: list[str]) -> list[str]:
    """Words the group's questions share: in at least two of them (any word of a lone
    question); by how many use them, then by how few questions outside the group do, then by
    how rare they are in everyday language."""
    counts: Counter[str] = Counter()
    rarity: dict[str, float] = {}
    for found in salient:
        counts.update(found.keys())
        rarity.update(found)
    least = min(2, len(salient))
    ranked = sorted(
        (w for w, n in counts.items() if n >= least),
        key=lambda w: (-counts[w], frequency[w] - counts[w], rarity[w]),
    )
    spelled = _spellings(texts)
    return [spelled.get(w, w) for w in ranked[:MAX_TERMS]]


def _spellings(texts: list[str]) -> dict[str, str]:
    """Folded word -> its most frequent spelling in the questions ("eintrage" -> "Einträge")."""
    seen: dict[str, Counter[str]] = {}
    for text in texts:
        for token in clean(text).replace("-", " ").replace("'", " ").split():
            token = token.strip(".,;:!?()[]{}\"'«»„“”‚‘’…/\\")
            folded = words(fold_for_index(token))
            if len(folded) == 1:
                seen.setdefault(folded[0], Counter())[token] += 1
    return {word: spellings.most_common(1)[0][0] for word, spellings in seen.items()}
