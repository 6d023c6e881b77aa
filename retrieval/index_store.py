"""The search index in memory and on disk.

On disk (``<data>/index/``): ``manifest.json`` (fingerprint, model, chunk rows, checksums),
``vectors.npy``, ``dense.faiss`` and ``lexical.pkl``. Loading verifies checksums and the
fingerprint; anything that does not match is rebuilt, never served. Every build reuses the
vectors of unchanged chunk texts (keyed by content hash), so a changed article re-encodes only
its own chunks; FAISS and BM25 are rebuilt from the vectors, which takes milliseconds for a KB
of hundreds of articles.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pickle
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval.chunking import Chunk
from retrieval.corpus import ArticleInfo
from retrieval.embeddings import Embedder
from retrieval.lexical import BM25Index
from retrieval.synonyms import SynonymIndex
from retrieval.text import char_ngrams, fold, stems
from retrieval.vector_index import VectorIndex

FORMAT = 2


class IndexUnusable(Exception):
    """The files on disk are missing, corrupt or stale."""


@dataclass
class LexicalIndexes:
    words: BM25Index
    grams: BM25Index  # document i of both is chunk row i

    @classmethod
    def build(cls, chunks: list[Chunk], synonyms: SynonymIndex) -> LexicalIndexes:
        folded = [fold(chunk.text) for chunk in chunks]
        words = BM25Index.build([stems(f) + synonyms.tokens(f) for f in folded])
        grams = BM25Index.build([char_ngrams(f) for f in folded])
        return cls(words, grams)


@dataclass
class SearchIndex:
    chunks: list[Chunk]
    vectors: np.ndarray
    articles: dict[int, ArticleInfo]
    dense: VectorIndex
    lexical: LexicalIndexes
    fingerprint: str
    model_id: str
    encoded: int = 0  # chunks encoded by the model while building (for tests and logs)
    _rows_by_article: dict[int, list[int]] | None = field(default=None, repr=False)

    def article_rows(self, article_id: int) -> list[int]:
        if self._rows_by_article is None:
            grouped: dict[int, list[int]] = {}
            for row, chunk in enumerate(self.chunks):
                grouped.setdefault(chunk.article_id, []).append(row)
            self._rows_by_article = grouped
        return self._rows_by_article.get(article_id, [])


def build_index(
    chunks: list[Chunk],
    articles: dict[int, ArticleInfo],
    embedder: Embedder,
    synonyms: SynonymIndex,
    fingerprint: str,
    *,
    cache: dict[str, np.ndarray] | None = None,
    ann_threshold: int,
) -> SearchIndex:
    """A fresh, compact index; vectors of unchanged chunk texts come from ``cache``."""
    cache = cache or {}
    missing = [c for c in dict.fromkeys(c.content_hash for c in chunks) if c not in cache]
    texts = {c.content_hash: c.text for c in chunks}
    if missing:
        encoded = embedder.encode_passages([texts[h] for h in missing])
        cache = {**cache, **dict(zip(missing, encoded, strict=True))}
    vectors = (
        np.stack([cache[c.content_hash] for c in chunks]).astype(np.float32)
        if chunks
        else np.zeros((0, embedder.dimension), np.float32)
    )
    return SearchIndex(
        chunks=chunks,
        vectors=vectors,
        articles=articles,
        dense=VectorIndex.build(vectors, approximate=len(chunks) > ann_threshold),
        lexical=LexicalIndexes.build(chunks, synonyms),
        fingerprint=fingerprint,
        model_id=embedder.model_id,
        encoded=len(missing),
    )


def vector_cache(index: SearchIndex | None) -> dict[str, np.ndarray]:
    if index is None:
        return {}
    return {c.content_hash: index.vectors[i] for i, c in enumerate(index.chunks)}


# --- persistence -------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Serialise writers (CLI, web app) of the same index folder."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def save_index(index: SearchIndex, directory: Path) -> None:
    """Write all files under temporary names, the manifest last: readers never see a mix."""
    with _locked(directory):
        writers = {
            "vectors.npy": lambda handle: np.save(handle, index.vectors, allow_pickle=False),
            "dense.faiss": lambda handle: handle.write(index.dense.serialize()),
            "lexical.pkl": lambda handle: pickle.dump(index.lexical, handle, protocol=5),
        }
        checksums = {}
        for name, write in writers.items():
            tmp = directory / f".{name}.tmp"
            with tmp.open("wb") as handle:
                write(handle)
            checksums[name] = _sha256(tmp)
            os.replace(tmp, directory / name)
        manifest = {
            "format": FORMAT,
            "fingerprint": index.fingerprint,
            "model_id": index.model_id,
            "rows": len(index.chunks),
            "hashes": [c.content_hash for c in index.chunks],
            "checksums": checksums,
        }
        tmp = directory / ".manifest.json.tmp"
        tmp.write_text(json.dumps(manifest), encoding="utf-8")
        os.replace(tmp, directory / "manifest.json")


def cached_vectors(directory: Path, model_id: str) -> dict[str, np.ndarray]:
    """Vectors of a previous index by chunk content hash, if made by the same model."""
    try:
        manifest = read_manifest(directory)
        if manifest.get("model_id") != model_id:
            return {}
        vectors = load_vectors(directory, manifest)
    except IndexUnusable:
        return {}
    hashes = manifest.get("hashes") or []
    if len(hashes) != len(vectors):
        return {}
    return dict(zip(hashes, vectors, strict=True))


def read_manifest(directory: Path) -> dict:
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexUnusable(f"manifest unreadable: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexUnusable("manifest of another format")
    return manifest


def load_vectors(directory: Path, manifest: dict) -> np.ndarray:
    """The stored vectors if intact (also the embedding cache for a rebuild)."""
    path = directory / "vectors.npy"
    if not path.exists() or _sha256(path) != manifest.get("checksums", {}).get("vectors.npy"):
        raise IndexUnusable("vectors.npy missing or corrupt")
    vectors = np.load(path, allow_pickle=False)
    if vectors.ndim != 2 or len(vectors) != manifest.get("rows"):
        raise IndexUnusable("vectors.npy does not match the manifest")
    return vectors


def load_index(
    directory: Path,
    chunks: list[Chunk],
    articles: dict[int, ArticleInfo],
    fingerprint: str,
    model_id: str,
) -> SearchIndex:
    """The persisted index for exactly these chunks, or IndexUnusable."""
    manifest = read_manifest(directory)
    if manifest.get("fingerprint") != fingerprint or manifest.get("model_id") != model_id:
        raise IndexUnusable("stale: the KB or the model changed")
    vectors = load_vectors(directory, manifest)
    if len(vectors) != len(chunks) or manifest.get("hashes") != [c.content_hash for c in chunks]:
        raise IndexUnusable("row count does not match the KB")
    checksums = manifest.get("checksums", {})
    for name in ("dense.faiss", "lexical.pkl"):
        path = directory / name
        if not path.exists() or _sha256(path) != checksums.get(name):
            raise IndexUnusable(f"{name} missing or corrupt")
    try:
        dense = VectorIndex.load(directory / "dense.faiss")
        lexical = pickle.loads((directory / "lexical.pkl").read_bytes())
    except Exception as exc:  # faiss and pickle raise assorted types on damaged files
        raise IndexUnusable(f"index files unreadable: {exc}") from exc
    if dense.size != len(chunks) or not isinstance(lexical, LexicalIndexes):
        raise IndexUnusable("index files do not match the manifest")
    return SearchIndex(
        chunks=chunks,
        vectors=vectors,
        articles=articles,
        dense=dense,
        lexical=lexical,
        fingerprint=fingerprint,
        model_id=model_id,
    )
