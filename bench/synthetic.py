"""A synthetic KB of any size for the speed benchmark.

Articles are assembled from the real KB's sentences in random order (so BM25 sees realistic
German), and their vectors are the real model's vectors of seed sentences plus noise:
encoding 200,000 texts with the real model would take hours on two cores and measures the
model, not the index. Queries in the benchmark are encoded by the real model.
"""

from __future__ import annotations

import hashlib
import random
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kb.article import Article
from kb.store import ArticleStore
from retrieval.chunking import markdown_to_text

SECTIONS_PER_ARTICLE = 10
LINES_PER_SECTION = 4


def write_kb(source: ArticleStore, target: Path, n_chunks: int, seed: int = 7) -> ArticleStore:
    rng = random.Random(seed)
    lines = [
        line.strip()
        for article in source.articles()
        for line in markdown_to_text(article.body).splitlines()
        if len(line.split()) >= 4
    ]
    headings = [a.title for a in source.articles()]
    store = ArticleStore(target)
    target.mkdir(parents=True, exist_ok=True)
    # The source KB's lists too: queries are then expanded, and so as long, as on the real KB.
    for name in ("synonyms.yml", "out_of_scope.yml"):
        if (source.kb_dir / name).exists():
            shutil.copyfile(source.kb_dir / name, target / name)
    for number in range(1, n_chunks // SECTIONS_PER_ARTICLE + 1):
        sections = []
        for s in range(SECTIONS_PER_ARTICLE):
            body = "\n".join(
                f"- {rng.choice(lines)} (Variante {rng.randint(1, 999)})"
                for _ in range(LINES_PER_SECTION)
            )
            sections.append(f"## {rng.choice(headings)} {s + 1}\n\n{body}")
        store.save(
            Article(
                id=number,
                title=f"{rng.choice(headings)} – Anleitung {number}",
                lang="de",
                category="Synthetisch",
                body="\n\n".join(sections) + "\n",
                updated="2026-11-27",
            )
        )
    return store


class SyntheticEmbedder:
    """Real query vectors; passage vectors are noisy copies of real ones (see module doc)."""

    def __init__(self, real, basis: np.ndarray, noise: float = 0.35) -> None:
        self.real = real
        self.model_id = real.model_id  # so that a real start-up accepts the stored index
        self.dimension = real.dimension
        self.basis = basis
        self.noise = noise

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.real.encode_queries(texts)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            rng = np.random.default_rng(seed)
            vector = self.basis[rng.integers(len(self.basis))] + self.noise * rng.standard_normal(
                self.dimension
            ) / np.sqrt(self.dimension)
            out[i] = vector / np.linalg.norm(vector)
        return out
