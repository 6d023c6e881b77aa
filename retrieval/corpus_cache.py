"""The parsed KB (chunks, article infos, units, fingerprint), kept beside the index.

Reading 5,000 article files, parsing their front matter and cutting them into chunks and
units took most of a start-up at 50,000 sections (bench/speed.py), while the files had not
changed since the index was built. So the parsed corpus is stored with a stamp of every file
it came from: path, size, modification and change time, inode. A start-up whose files all
carry the same stamp reads the corpus from ``corpus.pkl`` instead of parsing the KB; any
difference (an edit, a new or removed file, a copy, a checkout) parses the files again. The
change time cannot be set back by a program, so an edit that keeps size and modification
time still shows. The index itself is checked against the corpus either way
(retrieval/index_store.py), so a bad cache can cost a rebuild, never a wrong answer.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path

from retrieval.chunking import CHUNKER_VERSION, Chunk
from retrieval.corpus import ArticleInfo
from retrieval.units import UNITS_VERSION, Units

log = logging.getLogger(__name__)
FILE_NAME = "corpus.pkl"
FORMAT = 1


@dataclass
class Corpus:
    chunks: list[Chunk]
    infos: dict[int, ArticleInfo]
    units: Units
    fingerprint: str


def stamp(paths: list[Path], extra: tuple) -> tuple:
    """What must be unchanged for a stored corpus to be current: the files, and ``extra``
    (what else went into the units and the fingerprint)."""
    files = []
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            files.append((str(path), None))
            continue
        files.append((str(path), info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino))
    return (FORMAT, CHUNKER_VERSION, UNITS_VERSION, repr(extra), tuple(files))


def read(directory: Path, expected: tuple, model_id: str) -> Corpus | None:
    try:
        with (directory / FILE_NAME).open("rb") as handle:
            stored = pickle.load(handle)
    except FileNotFoundError:
        return None
    except Exception as exc:  # pickle raises assorted types on damaged files
        log.info("stored corpus unreadable, parsing the KB: %s", exc)
        return None
    if (
        not isinstance(stored, dict)
        or stored.get("stamp") != expected
        or stored.get("model_id") != model_id
        or not isinstance(stored.get("corpus"), Corpus)
    ):
        return None
    return stored["corpus"]


def write(directory: Path, expected: tuple, model_id: str, corpus: Corpus) -> None:
    """Atomic and best effort: without the file the next start-up parses the KB."""
    for chunk in corpus.chunks:
        _ = chunk.content_hash  # computed once, stored with the chunk
    _ = corpus.units.hashes
    tmp: Path | None = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # A name of its own: two processes may store the same corpus at once.
        handle, name = tempfile.mkstemp(prefix=f".{FILE_NAME}.", dir=directory)
        tmp = Path(name)
        with os.fdopen(handle, "wb") as out:
            stored = {"stamp": expected, "model_id": model_id, "corpus": corpus}
            pickle.dump(stored, out, protocol=5)
        os.chmod(tmp, 0o644)  # like the index files beside it, not mkstemp's 0600
        os.replace(tmp, directory / FILE_NAME)
    except OSError as exc:
        log.warning("could not store the parsed corpus: %s", exc)
        if tmp is not None:
            tmp.unlink(missing_ok=True)
