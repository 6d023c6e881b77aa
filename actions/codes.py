"""Support and VIP codes: recognising them in what a customer typed, masking them, and the
keyed hash under which they are stored.

A code is six digits, so there are only a million of them: a plain hash could be reversed
by trying them all. The HMAC key (``load_secret_key``) is what keeps stored digests opaque.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from helpdesk.config import Settings
from helpdesk.models import CODE_KINDS

CODE_MASK = "[Code entfernt]"
SECRET_KEY_FILE = "secret_key"

# Six ASCII digits, a single space or dash allowed between any two ("482 913", "48-29-13").
_CODE_BODY = r"[0-9](?:[ \-]?[0-9]){5}"
_CODE_ALONE = re.compile(rf"\s*({_CODE_BODY})\s*")
# Inside running text: not part of a longer number (an IBAN, an invoice number).
_CODE_IN_TEXT = re.compile(rf"(?<![0-9])(?<![0-9][ \-]){_CODE_BODY}(?![ \-]?[0-9])")


def normalize_code(text: str) -> str | None:
    """The six digits if ``text`` is a code and nothing else, else None."""
    match = _CODE_ALONE.fullmatch(text)
    if match is None:
        return None
    return re.sub(r"[ \-]", "", match.group(1))


def mask_codes(text: str) -> str:
    """``text`` with everything that looks like a code replaced, for agents' and logs' eyes."""
    return _CODE_IN_TEXT.sub(CODE_MASK, text)


def code_digest(kind: str, code: str, key: bytes) -> str:
    """HMAC-SHA256 (hex) of ``kind:code``: the kind is part of it, so a support code never
    matches as a VIP code."""
    if kind not in CODE_KINDS:
        raise ValueError(f"unknown code kind: {kind!r}")
    return hmac.new(key, f"{kind}:{code}".encode(), hashlib.sha256).hexdigest()


def load_secret_key(settings: Settings) -> bytes:
    """The HMAC key: ``settings.secret_key`` if set, else the file ``data_dir/secret_key``,
    created (32 random bytes as hex, mode 0600) on first use.

    Both are used as the UTF-8 bytes of the text, so copying the file's content into
    ``HELPDESK_SECRET_KEY`` keeps every stored digest valid.
    """
    if settings.secret_key:
        return settings.secret_key.encode()
    path = settings.data_dir / SECRET_KEY_FILE
    if not path.exists():
        _create_key_file(path)
    key = path.read_text(encoding="utf-8").strip()
    if not key:
        raise RuntimeError(f"{path} is empty: delete it to have a new key created")
    return key.encode()


def _create_key_file(path: Path) -> None:
    """Write the key to a private temporary file, then link it into place: a concurrent
    process either wins the link or reads the complete file, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        # FileExistsError: another process was first, and its key is the one to use.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
