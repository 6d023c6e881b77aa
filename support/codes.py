"""Support and VIP codes: the keyed hash under which they are stored (what they look like
in text is ``support.code_format``).

A code is six digits, so there are only a million of them: a plain hash could be reversed
by trying them all. The HMAC key (``core.keys.code_key``) is what keeps stored digests opaque.
"""

from __future__ import annotations

import hashlib
import hmac

from core.models import CODE_KINDS


def code_digest(kind: str, code: str, key: bytes) -> str:
    """HMAC-SHA256 (hex) of ``kind:code``: the kind is part of it, so a support code never
    matches as a VIP code."""
    if kind not in CODE_KINDS:
        raise ValueError(f"unknown code kind: {kind!r}")
    return hmac.new(key, f"{kind}:{code}".encode(), hashlib.sha256).hexdigest()
