"""Passages encoded with bfloat16 products (index builds on CPUs that have them) must stay in
float32's space: the index mixes vectors from both precisions through its vector cache."""

from __future__ import annotations

import numpy as np
import pytest

from kb.store import ArticleStore
from retrieval.corpus import load_corpus
from retrieval.embeddings import SentenceTransformerEmbedder
from retrieval.units import make_units

MIN_COSINE = 0.9999  # measured over the KB's units: 0.99998


@pytest.mark.slow
def test_bfloat16_passages_match_float32_ones(real_settings) -> None:
    chunks, _ = load_corpus(ArticleStore(real_settings.kb_dir))
    texts = make_units(chunks, []).texts[::6]  # every kind of unit, long and short
    embedder = SentenceTransformerEmbedder(real_settings.embedding_model, lean_bf16=False)
    full = embedder.encode_passages(texts)
    embedder._bf16 = True
    half = embedder.encode_passages(texts)
    assert half.dtype == np.float32 and half.shape == full.shape
    assert np.allclose(np.linalg.norm(half, axis=1), 1.0, atol=1e-5)
    assert float((full * half).sum(axis=1).min()) >= MIN_COSINE
