"""The search index in memory and on disk.

On disk (``<data>/index/``): ``manifest.json`` (fingerprint, model, unit hashes, checksums),
``vectors.npy``, ``dense.faiss`` and ``lexical.pkl``. Loading verifies checksums and the
fingerprint; anything that does not match is rebuilt, never served. Every build reuses the
vectors of unchanged unit texts (keyed by content hash), so a changed article re-encodes only
its own units; FAISS and BM25 are rebuilt from the vectors, which takes milliseconds for a KB
of hundreds of articles.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.chunking import Chunk
from retrieval.corpus import ArticleInfo
from retrieval.embeddings import Embedder
from retrieval.lexical import BM25Index
from retrieval.synonyms import SynonymIndex
from retrieval.text import char_ngrams, fold_for_index, stems
from retrieval.units import BACKGROUND, Units
from retrieval.vector_index import VectorIndex

FORMAT = 4


class IndexUnusable(Exception):
    """The files on disk are missing, corrupt or stale."""


@dataclass
class LexicalIndexes:
    words: BM25Index
    grams: BM25Index  # document i of both is chunk row i

    content: list[str] = field(default_factory=list)  # chunk content hash per document

    @classmethod
    def build(
        cls,
        chunks: list[Chunk],
        synonyms: SynonymIndex,
        previous: LexicalIndexes | None = None,
    ) -> LexicalIndexes:
        """Only chunks whose text is new are analysed; the others keep their rows."""
        hashes = [c.content_hash for c in chunks]
        old_rows = {h: i for i, h in enumerate(previous.content)} if previous else {}
        reuse = [old_rows.get(h, -1) for h in hashes]
        folded = [
            fold_for_index(c.text) if r < 0 else None for c, r in zip(chunks, reuse, strict=True)
        ]
        words = [stems(f) + synonyms.tokens(f) if f is not None else None for f in folded]
        grams = [char_ngrams(f) if f is not None else None for f in folded]
        if previous is None:
            return cls(BM25Index.build(words), BM25Index.build(grams), hashes)  # type: ignore[arg-type]
        return cls(
            previous.words.updated(reuse, words), previous.grams.updated(reuse, grams), hashes
        )


_NO_ROWS = np.zeros(0, np.int64)
_NO_ROWS.flags.writeable = False


@dataclass
class SearchIndex:
    chunks: list[Chunk]
    units: Units
    vectors: np.ndarray  # one row per unit; FAISS holds the searchable ones (same row numbers)
    articles: dict[int, ArticleInfo]
    dense: VectorIndex
    lexical: LexicalIndexes
    fingerprint: str
    model_id: str
    encoded: int = 0  # units encoded by the model while building (for tests and logs)
    _groups: dict[str, Any] = field(default_factory=dict, repr=False)  # derived, cached

    def _grouped(self, name: str, keys: Callable[[], list[int]]) -> dict[int, np.ndarray]:
        if name not in self._groups:
            grouped: dict[int, list[int]] = {}
            for row, key in enumerate(keys()):
                grouped.setdefault(key, []).append(row)
            self._groups[name] = {k: np.asarray(v, dtype=np.int64) for k, v in grouped.items()}
        return self._groups[name]

    @property
    def chunk_articles(self) -> np.ndarray:
        """Article id per chunk row."""
        if "chunk_articles" not in self._groups:
            self._groups["chunk_articles"] = np.asarray(
                [c.article_id for c in self.chunks], dtype=np.int64
            )
        return self._groups["chunk_articles"]

    def article_rows(self, article_id: int) -> np.ndarray:
        """Chunk rows of an article."""
        groups = self._grouped("chunks", lambda: [c.article_id for c in self.chunks])
        return groups.get(article_id, _NO_ROWS)

    def article_units(self, article_id: int) -> np.ndarray:
        """Searchable unit rows of an article."""
        groups = self._grouped(
            "units", lambda: self.units.articles[: self.units.n_searchable].tolist()
        )
        return groups.get(article_id, _NO_ROWS)

    @property
    def background(self) -> np.ndarray:
        return self.vectors[self.units.n_searchable :]


def build_index(
    chunks: list[Chunk],
    units: Units,
    articles: dict[int, ArticleInfo],
    embedder: Embedder,
    synonyms: SynonymIndex,
    fingerprint: str,
    *,
    cache: dict[str, np.ndarray] | None = None,
    previous: SearchIndex | None = None,
    changed: set[int] | None = None,
    ann_threshold: int,
) -> SearchIndex:
    """A new index. Vectors of unchanged unit texts come from ``cache``; with ``previous``,
    BM25 rows of unchanged chunks are reused (the synonym list must be the same) and, when
    only the articles in ``changed`` differ, an HNSW graph is updated instead of rebuilt."""
    cache = dict(cache or {})
    hashes = units.hashes
    encoded = 0
    for as_query in (False, True):
        wanted = {
            h: text
            for h, text, kind in zip(hashes, units.texts, units.kinds.tolist(), strict=True)
            if h not in cache and (kind == BACKGROUND) == as_query
        }
        if wanted:
            encode = embedder.encode_queries if as_query else embedder.encode_passages
            cache.update(zip(wanted, encode(list(wanted.values())), strict=True))
            encoded += len(wanted)
    vectors = (
        np.stack([cache[h] for h in hashes]).astype(np.float32)
        if hashes
        else np.zeros((0, embedder.dimension), np.float32)
    )
    searchable = vectors[: units.n_searchable]
    approximate = len(searchable) > ann_threshold
    dense = None
    if previous is not None and changed is not None and approximate:
        dense = _updated_graph(previous, units, searchable, changed)
    return SearchIndex(
        chunks=chunks,
        units=units,
        vectors=vectors,
        articles=articles,
        dense=dense or VectorIndex.build(searchable, approximate=approximate),
        lexical=LexicalIndexes.build(chunks, synonyms, previous.lexical if previous else None),
        fingerprint=fingerprint,
        model_id=embedder.model_id,
        encoded=encoded,
    )


def _updated_graph(
    previous: SearchIndex, units: Units, searchable: np.ndarray, changed: set[int]
) -> VectorIndex | None:
    """Renumber the units of unchanged articles, add those of changed ones."""
    new_rows: dict[int, list[int]] = {}
    for row, article_id in enumerate(units.articles[: units.n_searchable].tolist()):
        new_rows.setdefault(article_id, []).append(row)
    row_map = np.full(previous.units.n_searchable, -1, dtype=np.int64)
    added: list[int] = []
    for article_id, rows in new_rows.items():
        old = previous.article_units(article_id)
        if article_id in changed or len(old) != len(rows):
            added.extend(rows)
        else:
            row_map[old] = rows
    fresh = np.asarray(added, dtype=np.int64)
    return previous.dense.updated(row_map, fresh, searchable[fresh])


def vector_cache(index: SearchIndex | None) -> dict[str, np.ndarray]:
    if index is None:
        return {}
    return dict(zip(index.units.hashes, index.vectors, strict=True))


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
            "dense_rows.npy": lambda handle: np.save(handle, index.dense.rows, allow_pickle=False),
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
            "rows": len(index.units),
            "hashes": index.units.hashes,
            "checksums": checksums,
        }
        tmp = directory / ".manifest.json.tmp"
        tmp.write_text(json.dumps(manifest), encoding="utf-8")
        os.replace(tmp, directory / "manifest.json")


def cached_vectors(directory: Path, model_id: str) -> dict[str, np.ndarray]:
    """Vectors of a previous index by unit content hash, if made by the same model."""
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
    units: Units,
    articles: dict[int, ArticleInfo],
    fingerprint: str,
    model_id: str,
) -> SearchIndex:
    """The persisted index for exactly these chunks and units, or IndexUnusable."""
    manifest = read_manifest(directory)
    if manifest.get("fingerprint") != fingerprint or manifest.get("model_id") != model_id:
        raise IndexUnusable("stale: the KB or the model changed")
    vectors = load_vectors(directory, manifest)
    if manifest.get("hashes") != units.hashes:
        raise IndexUnusable("units do not match the KB")
    checksums = manifest.get("checksums", {})
    for name in ("dense.faiss", "dense_rows.npy", "lexical.pkl"):
        path = directory / name
        if not path.exists() or _sha256(path) != checksums.get(name):
            raise IndexUnusable(f"{name} missing or corrupt")
    try:
        rows = np.load(directory / "dense_rows.npy", allow_pickle=False)
        dense = VectorIndex.load(directory / "dense.faiss", rows)
        lexical = pickle.loads((directory / "lexical.pkl").read_bytes())
    except Exception as exc:  # faiss and pickle raise assorted types on damaged files
        raise IndexUnusable(f"index files unreadable: {exc}") from exc
    live = dense.rows[dense.rows >= 0]
    if len(live) != units.n_searchable or not isinstance(lexical, LexicalIndexes):
        raise IndexUnusable("index files do not match the manifest")
    if lexical.content != [c.content_hash for c in chunks]:
        raise IndexUnusable("lexical index does not match the KB")
    return SearchIndex(
        chunks=chunks,
        units=units,
        vectors=vectors,
        articles=articles,
        dense=dense,
        lexical=lexical,
        fingerprint=fingerprint,
        model_id=model_id,
    )
