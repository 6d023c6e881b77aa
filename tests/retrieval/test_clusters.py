"""Grouping customer questions by topic (retrieval/clusters.py): synthetic vectors for the
mechanics, the real model for paraphrases of uncovered topics."""

from __future__ import annotations

import numpy as np
import pytest

from core.settings import Settings
from retrieval.clusters import (
    MAX_TERMS,
    Cluster,
    cluster_questions,
    generic_background,
    generic_center,
)
from retrieval.retriever import Retriever
from tests.fakes import FakeEmbedder

DIMENSION = 32


def _topics(sizes: list[int], *, spread: float = 0.15, common: float = 0.0, seed: int = 0):
    """Unit vectors around one random direction per topic, optionally all sharing a strong
    common direction (as every e5 question vector does). Returns the vectors, the topic of
    each, and the mean of 30 unrelated "background questions" made alike (the centre)."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=DIMENSION)
    shared *= common / np.linalg.norm(shared)

    def made(directions: np.ndarray) -> np.ndarray:
        unit = directions / np.linalg.norm(directions, axis=1, keepdims=True)
        unit = unit + shared
        return unit / np.linalg.norm(unit, axis=1, keepdims=True)

    rows, labels = [], []
    for topic, size in enumerate(sizes):
        direction = rng.normal(size=DIMENSION)
        direction /= np.linalg.norm(direction)
        for _ in range(size):
            rows.append(direction + spread * rng.normal(size=DIMENSION) / np.sqrt(DIMENSION))
            labels.append(topic)
    background = made(rng.normal(size=(30, DIMENSION)))
    return made(np.asarray(rows)).astype(np.float32), labels, background.mean(axis=0)


def _groups(clusters: list[Cluster]) -> list[set[int]]:
    return [set(c.members) for c in clusters]


def _topic_sets(labels: list[int]) -> list[set[int]]:
    found: dict[int, set[int]] = {}
    for i, label in enumerate(labels):
        found.setdefault(label, set()).add(i)
    return sorted(found.values(), key=lambda s: (-len(s), min(s)))


def test_topics_are_found_biggest_first_with_every_question_once():
    vectors, labels, _ = _topics([3, 5, 2, 4])
    texts = [f"Frage {i}" for i in range(len(labels))]
    clusters = cluster_questions(vectors, texts, min_similarity=0.8)
    assert _groups(clusters) == _topic_sets(labels)
    assert [len(c.members) for c in clusters] == [5, 4, 3, 2]
    members = sorted(i for c in clusters for i in c.members)
    assert members == list(range(len(texts)))


def test_members_are_ordered_by_centrality_and_the_label_is_the_most_central():
    base = np.zeros((4, DIMENSION), np.float32)
    base[:, 0] = 1.0
    base[0, 1], base[1, 1], base[2, 1], base[3, 1] = 0.3, 0.0, -0.05, -0.25
    vectors = base / np.linalg.norm(base, axis=1, keepdims=True)
    texts = ["weit weg", "ganz zentral", "fast zentral", "auch weit"]
    [cluster] = cluster_questions(vectors, texts, min_similarity=0.5)
    # The centroid leans to the small positive offset; the closest first.
    closeness = vectors @ vectors.mean(axis=0)
    assert cluster.members == sorted(range(4), key=lambda i: -closeness[i])
    assert cluster.label == texts[cluster.members[0]]


def test_the_centre_separates_topics_that_raw_cosines_cannot():
    """Every question shares a strong direction (e5's "a support question"): raw cosines of
    different topics are then as high as paraphrases', the centred ones are not."""
    vectors, labels, common = _topics([4, 4, 3], spread=0.3, common=3.0, seed=3)
    texts = [f"q{i}" for i in range(len(labels))]
    raw = vectors @ vectors.T
    assert raw.min() > 0.85  # everything looks alike
    assert len(cluster_questions(vectors, texts)) == 1
    centred = cluster_questions(vectors, texts, center=common)
    assert _groups(centred) == _topic_sets(labels)


def test_deterministic_and_independent_of_input_order():
    vectors, labels, _ = _topics([4, 3, 3, 2], spread=0.4, seed=7)
    texts = [f"Frage {i}" for i in range(len(labels))]
    first = cluster_questions(vectors, texts, min_similarity=0.7)
    again = cluster_questions(vectors.copy(), list(texts), min_similarity=0.7)
    assert [c.to_dict() for c in first] == [c.to_dict() for c in again]
    order = np.random.default_rng(1).permutation(len(texts))
    shuffled = cluster_questions(vectors[order], [texts[i] for i in order], min_similarity=0.7)
    back = [{int(order[i]) for i in c.members} for c in shuffled]
    assert sorted(map(sorted, back)) == sorted(map(sorted, _groups(first)))


def test_edge_cases():
    assert cluster_questions(np.zeros((0, DIMENSION), np.float32), []) == []
    one = np.ones((1, DIMENSION), np.float32) / np.sqrt(DIMENSION)
    assert [c.to_dict() for c in cluster_questions(one, ["Gibt es PayPal?"])] == [
        {"label": "Gibt es PayPal?", "terms": ["PayPal"], "members": [0]}
    ]
    with pytest.raises(ValueError):
        cluster_questions(np.zeros((2, DIMENSION), np.float32), ["nur eine"])
    # Identical and zero vectors do not break the cosine.
    same = np.repeat(one, 3, axis=0)
    assert _groups(cluster_questions(same, ["a", "b", "c"])) == [{0, 1, 2}]
    zeros = np.zeros((2, DIMENSION), np.float32)
    assert sum(len(c.members) for c in cluster_questions(zeros, ["x", "y"])) == 2


def test_terms_are_shared_salient_words_in_the_customers_spelling():
    texts = [
        "Kann ich mit PayPal bezahlen?",
        "Akzeptieren Sie Zahlungen über PayPal?",
        "Ist eine Bezahlung per Paypal möglich, wie bei der Rechnung 2024?",
        "Rechnung mit PayPal begleichen geht das?",
    ]
    vectors = np.tile(np.eye(DIMENSION, dtype=np.float32)[0], (4, 1))
    [cluster] = cluster_questions(vectors, texts)
    # In every question, spelt as most customers did; then "Rechnung" (two of the four).
    # Stop words ("ich", "mit"), everyday words ("geht"), numbers and words of a single
    # question ("Akzeptieren") are no terms.
    assert cluster.terms == ["PayPal", "Rechnung"]


def test_at_most_five_terms_and_a_lone_question_keeps_its_words():
    text = "Outlook IMAP SMTP Zertifikat Thunderbird Postfach Weiterleitung Spamfilter"
    vectors = np.ones((2, DIMENSION), np.float32)
    [cluster] = cluster_questions(vectors, [text, text])
    assert len(cluster.terms) == MAX_TERMS
    assert set(cluster.terms) <= set(text.split())
    [alone] = cluster_questions(vectors[:1], ["Wo finde ich den DNS-Eintrag?"])
    assert alone.terms == ["DNS", "Eintrag"]


def test_generic_center_is_the_mean_of_the_generic_background(settings: Settings):
    embedder = FakeEmbedder()
    retriever = Retriever(settings, embedder=embedder)
    center = generic_center(retriever.index)
    expected = FakeEmbedder().encode_queries(generic_background()).mean(axis=0)
    assert center is not None
    np.testing.assert_allclose(center, expected, atol=1e-6)


# --- the real model ----------------------------------------------------------------------

PAYPAL = [
    "Kann ich meine Rechnung auch mit PayPal bezahlen?",
    "Nehmt ihr Paypal als Zahlungsmittel?",
    "PayPal Zahlung möglich?",
    "Ich würde gern per PayPal zahlen, geht das bei euch?",
]
OUTLOOK = [
    "Wie richte ich mein Postfach in Outlook per IMAP ein?",
    "Welche Servereinstellungen (IMAP, SMTP) brauche ich für Outlook?",
    "Outlook verbindet sich nicht mit meinem Mailkonto, welcher IMAP-Server ist richtig?",
    "E-Mail-Konto in Outlook hinzufügen: Posteingangsserver und Port?",
]
DNS = [
    "Wie lege ich einen CNAME-Eintrag für meine Domain an?",
    "Wo kann ich die DNS-Einträge meiner Domain bearbeiten?",
    "Ich muss einen A-Record und einen MX-Eintrag im DNS ändern",
]


@pytest.mark.slow
@pytest.mark.quality
def test_paraphrases_of_uncovered_topics_form_one_group_each(real_retriever: Retriever):
    questions = [PAYPAL[0], OUTLOOK[0], DNS[0], *PAYPAL[1:], *DNS[1:], *OUTLOOK[1:]]
    vectors = real_retriever.embedder.encode_queries(questions)
    center = generic_center(real_retriever.index)
    clusters = cluster_questions(vectors, questions, center=center)
    groups = [{questions[i] for i in c.members} for c in clusters]
    assert groups == [set(PAYPAL), set(OUTLOOK), set(DNS)]
    paypal, outlook, dns = clusters
    assert paypal.terms[0] == "PayPal"
    assert {"Outlook", "IMAP"} <= set(outlook.terms)
    assert "Domain" in dns.terms or "DNS" in dns.terms
    assert all(c.label == questions[c.members[0]] for c in clusters)
