"""Secrets the installation makes for itself on first use, and where each one lives.

- the HMAC key under which support and VIP codes are stored (``code_key``);
- the token the web app shows the action server's KB routes (``kb_token``);
- the token guarding Rasa's HTTP API, which pauses and resumes conversations
  (``rasa_api_token``);
- the key signing the web app's session cookies (``flask_secret``).

They live in ``settings.secrets_dir`` (the data folder unless set): replicas on several
machines are given one copy of that folder.

Every process that needs one reads it here, so no layer imports another to find a secret.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from core.settings import Settings

SECRET_KEY_FILE = "secret_key"


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


def code_key(settings: Settings) -> bytes:
    """The HMAC key: ``settings.secret_key`` if set, else the file ``secrets_dir/secret_key``,
    created (random, mode 0600) on first use.

    Both are used as the UTF-8 bytes of the text, so copying the file's content into
    ``HELPDESK_SECRET_KEY`` keeps every stored digest valid.
    """
    if settings.secret_key:
        return settings.secret_key.encode()
    return read_or_create(settings.secrets_path / SECRET_KEY_FILE).encode()


def kb_token_path(settings: Settings) -> Path:
    return settings.secrets_path / "kb_token"


def kb_token(settings: Settings) -> str:
    """Guards the action server's KB routes (search, re-index, preview)."""
    return read_or_create(kb_token_path(settings))


def rasa_api_token(settings: Settings) -> str:
    """Guards Rasa's HTTP API (pausing and resuming conversations); not its chat channels."""
    return read_or_create(settings.secrets_path / "rasa" / "api_token")


def flask_secret(settings: Settings) -> str:
    """Signs the web app's session cookies: every web replica must have the same."""
    return read_or_create(settings.secrets_path / "flask_secret")
