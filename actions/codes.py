"""Support and VIP codes: the keyed hash under which they are stored (what they look like
in text is ``actions.code_format``).

A code is six digits, so there are only a million of them: a plain hash could be reversed
by trying them all. The HMAC key (``load_secret_key``) is what keeps stored digests opaque.
"""

from __future__ import annotations

import hashlib
import hmac

from helpdesk.config import Settings
from helpdesk.models import CODE_KINDS
from helpdesk.secret_files import read_or_create

SECRET_KEY_FILE = "secret_key"


def code_digest(kind: str, code: str, key: bytes) -> str:
    """HMAC-SHA256 (hex) of ``kind:code``: the kind is part of it, so a support code never
    matches as a VIP code."""
    if kind not in CODE_KINDS:
        raise ValueError(f"unknown code kind: {kind!r}")
    return hmac.new(key, f"{kind}:{code}".encode(), hashlib.sha256).hexdigest()


def load_secret_key(settings: Settings) -> bytes:
    """The HMAC key: ``settings.secret_key`` if set, else the file ``data_dir/secret_key``,
    created (random, mode 0600) on first use.

    Both are used as the UTF-8 bytes of the text, so copying the file's content into
    ``HELPDESK_SECRET_KEY`` keeps every stored digest valid.
    """
    if settings.secret_key:
        return settings.secret_key.encode()
    return read_or_create(settings.data_dir / SECRET_KEY_FILE).encode()
