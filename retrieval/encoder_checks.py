"""The record that lets a process encode queries without loading sentence-transformers.

When a model folder's lean query encoder (retrieval/lean_encoder.py) passes its check
against sentence-transformers, the reference vectors of that check are written here, with a
stamp of the folder's files and of the libraries that computed them. A later process whose
stamp matches reads the encoder from the folder and checks it against these vectors instead;
any difference in the folder or the libraries means a new check with the model loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

FILE_NAME = "query-encoder-check.json"
_LIBRARIES = ("torch", "tokenizers", "safetensors", "transformers", "sentence-transformers")


@dataclass(frozen=True)
class Record:
    prompts: dict[str, str]
    dimension: int
    references: np.ndarray  # one row per lean_encoder.PROBES text


def stamp(folder: Path) -> str:
    """Changes when any file of the model folder or any library on the encoding path does."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        info = path.stat()
        digest.update(f"{path.relative_to(folder)}:{info.st_size}:{info.st_mtime_ns}|".encode())
    for name in _LIBRARIES:
        try:
            digest.update(f"{name}={metadata.version(name)}|".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name}=-|".encode())
    return digest.hexdigest()


def read(check_file: Path, folder: str) -> Record | None:
    """The record for this folder as it is now, or None."""
    try:
        data = json.loads(check_file.read_text(encoding="utf-8"))
        if data.get("stamp") != stamp(Path(folder)):
            return None
        references = np.asarray(data["references"], dtype=np.float32)
        prompts = {str(k): str(v) for k, v in dict(data["prompts"]).items()}
        return Record(prompts, int(data["dimension"]), references)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # no record, or one from another layout: check with the model


def write(
    check_file: Path,
    folder: str,
    prompts: dict[str, str],
    dimension: int,
    references: np.ndarray,
) -> None:
    """Best effort: without the record the next start loads the model, nothing worse."""
    data = {
        "stamp": stamp(Path(folder)),
        "prompts": prompts,
        "dimension": dimension,
        "references": np.asarray(references, dtype=np.float32).tolist(),
    }
    try:
        check_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = check_file.with_name(f".{check_file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, check_file)
    except OSError:
        pass
