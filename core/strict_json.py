"""JSON bodies every server can trust: the one parser the web app and the action server use.

Python's ``json`` (and Sanic's ujson) accept bodies that blow up later, as HTTP 500s: a lone
surrogate (``"\\ud800"``, or its UTF-8 bytes ``ED A0 80``) decodes into a ``str`` that cannot
be encoded as UTF-8 again, so storing, logging or forwarding it raises; a NUL character
cannot be stored in PostgreSQL; and a deeply nested body makes the decoder itself raise
``RecursionError``. :func:`parse` refuses all of these, and duplicate keys and NaN, with a
:class:`BadJson` whose ``reason`` each server words for its own readers.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Far deeper than any body the servers expect: the deepest, a draft's preview, is 3 levels.
MAX_DEPTH = 32

# Why a body was refused.
NOT_UTF8 = "not_utf8"
TOO_DEEP = "too_deep"
INVALID = "invalid"  # not JSON at all, or NaN/Infinity, or an integer too long to convert
DUPLICATE_KEY = "duplicate_key"
UNUSABLE_CHARACTER = "unusable_character"  # a lone surrogate, or NUL where it is refused

_SURROGATES = re.compile("[\ud800-\udfff]")
_SURROGATES_OR_NUL = re.compile("[\x00\ud800-\udfff]")
# A JSON string (possessive: one left open is matched once, never retried), a bracket, or
# the quote of a string left open.
_TOKENS = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"|[\[\]{}]|"', re.DOTALL)


class BadJson(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse(raw: bytes | str, *, allow_nul: bool = False) -> Any:
    """``raw`` as JSON, or :class:`BadJson`. ``allow_nul``: for bodies nothing is stored from
    (a valid pair such as ``\\ud83d\\ude00`` is joined by the decoder, so never refused)."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")  # strict: the UTF-8 of a surrogate is refused as well
        except UnicodeDecodeError:
            raise BadJson(NOT_UTF8) from None
    if depth(raw) > MAX_DEPTH:
        raise BadJson(TOO_DEEP)
    try:
        data = json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except BadJson:
        raise
    except RecursionError:  # cannot happen after the depth count; a 500 would be worse
        raise BadJson(TOO_DEEP) from None
    except ValueError:
        raise BadJson(INVALID) from None
    if not _usable(data, _SURROGATES if allow_nul else _SURROGATES_OR_NUL):
        raise BadJson(UNUSABLE_CHARACTER)
    return data


def depth(text: str) -> int:
    """How deep ``text`` nests arrays and objects, counted without recursion so a 100,000
    levels deep body costs no more than a flat one. Counting stops where the JSON turns
    invalid (a string left open, a bracket closed too often): the decoder stops there too."""
    level = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            level += 1
            if level > deepest:
                deepest = level
                if deepest > MAX_DEPTH:  # no need to read on
                    break
        elif token in ("]", "}"):
            level -= 1
            if level < 0:
                break
        elif token == '"':
            break
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Which of two values counts would be up to the parser; refuse rather than guess.
    data = dict(pairs)
    if len(data) != len(pairs):
        raise BadJson(DUPLICATE_KEY)
    return data


def _no_constant(name: str) -> Any:
    raise BadJson(INVALID)  # NaN, Infinity, -Infinity: Python's extension, not JSON


def _usable(value: Any, unusable: re.Pattern[str]) -> bool:
    if isinstance(value, str):
        return unusable.search(value) is None
    if isinstance(value, dict):
        return all(_usable(k, unusable) and _usable(v, unusable) for k, v in value.items())
    if isinstance(value, list):
        return all(_usable(v, unusable) for v in value)
    return True  # numbers, true, false, null; the depth is bounded, so is the recursion
