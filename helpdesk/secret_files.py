"""Secrets the installation makes for itself on first use (HMAC key, Rasa API token)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def read_or_create(path: Path, nbytes: int = 32) -> str:
    """The secret in ``path``; created as random hex, readable by the owner only."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(nbytes)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process was first: use its secret
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(value + "\n")
    return value
