"""Secrets the installation makes for itself on first use (HMAC key, Rasa API token)."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def read_or_create(path: Path, nbytes: int = 32) -> str:
    """The secret in ``path``; created as random hex, readable by the owner only."""
    if not path.exists():
        _create(path, nbytes)
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise RuntimeError(f"{path} is empty: delete it to have a new secret created")
    return value


def _create(path: Path, nbytes: int) -> None:
    """Write to a private temporary file, then link it into place: a concurrent process
    either wins the link or reads the complete file, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_hex(nbytes) + "\n")
        # FileExistsError: another process was first, and its secret is the one to use.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
