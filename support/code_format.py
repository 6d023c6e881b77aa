"""What a support or VIP code looks like in text: recognising it, and masking it.

Standard library only, on purpose: the Rasa server (Python 3.10 environment) imports this
module too, to keep codes out of its tracker store (bot/tracker_store.py).
"""

from __future__ import annotations

import re

CODE_MASK = "[Code entfernt]"

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
