"""The three-way decision as the customer meets it: the choice of guides for an unclear
question, and the honest "not covered" with a way on.

Plain functions, shared by the bot's actions and the web app's limited service (Rasa down),
so that both offer the same buttons with the same payloads. A payload is a Rasa intent with
an entity, ``/choose_guide{"guide_id":"5"}`` or ``/choose_guide{"guide_id":"none"}`` for
"Etwas anderes": Rasa reads it without NLU, and the choice is deterministic.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from support.code_format import mask_codes

# The KB's verdicts (retrieval.verdict).
ANSWER, CLARIFY, NOT_COVERED = "answer", "clarify", "not_covered"
VERDICTS = (ANSWER, CLARIFY, NOT_COVERED)
INTENT = "choose_guide"
ENTITY = "guide_id"
NONE = "none"  # the guide_id of "Etwas anderes"
OTHER_TITLE = "Etwas anderes"
CLARIFY_QUESTION = "Meinen Sie eine dieser Anleitungen?"
NOT_COVERED_TEXT = "Dazu gibt es leider noch keine Anleitung."
STALE = (
    "Diese Auswahl ist nicht mehr aktuell. Bitte stellen Sie Ihre Frage noch einmal, dann "
    "suche ich erneut für Sie."
)
NOT_OFFERED = (
    "Diese Anleitung stand nicht zur Auswahl. Bitte wählen Sie eine der angebotenen "
    "Anleitungen oder stellen Sie Ihre Frage anders."
)
PICK_ONE = "Bitte wählen Sie eine der Anleitungen oben oder „Etwas anderes“, wenn keine passt."
GUIDE_GONE = "Diese Anleitung gibt es leider nicht mehr. Bitte stellen Sie Ihre Frage noch einmal."
# The customer-facing guide pages (web/chat.py) and their search.
GUIDE_SEARCH_PATH = "/hilfe/"
SEARCH_QUERY_CHARS = 200

_PAYLOAD = re.compile(r"^/" + INTENT + r"(\{.*\})$", re.DOTALL)
# Typed instead of pressed: "die zweite", "Nummer 2", "keine davon".
_ORDINALS = (
    ("1", "eins", "erste", "ersten", "erster", "first", "premier", "première"),
    ("2", "zwei", "zweite", "zweiten", "zweiter", "second", "deuxième", "seconde"),
    ("3", "drei", "dritte", "dritten", "dritter", "third", "troisième"),
)
_NONE_WORDS = re.compile(
    r"\b(etwas anderes|was anderes|keine? (davon|dieser|der)|nichts davon|none|aucune?)\b",
    re.IGNORECASE,
)


def choice_payload(article_id: int | None) -> str:
    """The button payload that picks ``article_id`` (None: "Etwas anderes")."""
    value = NONE if article_id is None else str(int(article_id))
    return f"/{INTENT}" + json.dumps({ENTITY: value}, separators=(",", ":"))


def parse_payload(text: str) -> tuple[bool, int | None]:
    """``(True, id)`` for a guide's payload, ``(True, None)`` for "Etwas anderes",
    ``(False, None)`` for anything else (a malformed id included)."""
    match = _PAYLOAD.match(text.strip())
    if not match:
        return False, None
    try:
        entities = json.loads(match.group(1))
    except ValueError:
        return False, None
    value = entities.get(ENTITY) if isinstance(entities, dict) else None
    return parse_guide_id(value)


def parse_guide_id(value: object) -> tuple[bool, int | None]:
    """The entity's value: ``(True, id)``, ``(True, None)`` for "none", else ``(False, None)``."""
    if isinstance(value, str) and value.strip().lower() == NONE:
        return True, None
    if isinstance(value, bool):
        return False, None
    if isinstance(value, int):
        return True, value
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 9:
        return True, int(value.strip())
    return False, None


def choice_from_text(text: str, offered: list[int]) -> tuple[bool, int | None]:
    """A choice typed in words ("die zweite", "keine davon"); ``(False, None)`` if none."""
    if _NONE_WORDS.search(text):
        return True, None
    words = set(re.findall(r"[\wäöüèé]+", text.lower()))
    picked = [i for i, names in enumerate(_ORDINALS) if words & set(names)]
    if len(picked) == 1 and picked[0] < len(offered):
        return True, offered[picked[0]]
    return False, None


def buttons(choices: list[tuple[int, str]]) -> list[dict[str, str]]:
    """One button per offered guide (its title), then "Etwas anderes"."""
    out = [{"title": title, "payload": choice_payload(article_id)} for article_id, title in choices]
    return [*out, {"title": OTHER_TITLE, "payload": choice_payload(None)}]


def search_url(public_url: str, query: str) -> str:
    """The guide pages' search for ``query`` (codes masked, cut short)."""
    shown = " ".join(mask_codes(query).split())[:SEARCH_QUERY_CHARS]
    return f"{public_url.rstrip('/')}{GUIDE_SEARCH_PATH}?q={quote(shown, safe='')}"


def not_covered_text(url: str) -> str:
    """What the customer reads when no guide covers the question (Markdown)."""
    return (
        f"{NOT_COVERED_TEXT} Sie können [unsere Anleitungen durchsuchen]({url}) oder mit einem "
        "Mitarbeiter des Supports sprechen."
    )


def clarify_custom(choices: list[tuple[int, str]], article_url) -> dict[str, Any]:
    """The ``custom`` part of the clarifying message; ``article_url(id)`` builds the links."""
    return {
        "verdict": CLARIFY,
        "choices": [
            {"id": article_id, "title": title, "url": article_url(article_id)}
            for article_id, title in choices
        ],
    }
