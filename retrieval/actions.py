"""Actions and their opposites: "2FA einschalten" is not answered by "2FA deaktivieren".

Embeddings put a question and its antonym next to each other (same topic, same words), so
the action a question asks for is read from its words and compared with what a guide's
title and headings say it does. Patterns work on folded text (``retrieval.text.fold_for_index``:
lower case, umlauts and accents removed) in German, English and French; German separable
verbs ("schalten … aus") are matched across the sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.text import fold_for_index


@dataclass(frozen=True)
class Action:
    name: str
    pattern: re.Pattern[str]


def _action(name: str, *alternatives: str) -> Action:
    return Action(name, re.compile(r"\b(?:" + "|".join(alternatives) + r")", re.IGNORECASE))


ENABLE = _action(
    "aktivieren",
    r"aktivier",
    r"einschalt",
    r"anschalt",
    r"einricht",
    r"schalt\w*\b(?:\W+\w+){0,6}?\W+(?:ein|an)\b",
    r"enabl",
    r"turn(?:ed|ing|s)? on",
    r"switch(?:ed|ing)? on",
    r"set(?:ting)? up",
    r"activat",
    r"activer\b",
)
DISABLE = _action(
    "deaktivieren",
    r"deaktivier",
    r"ausschalt",
    r"abschalt",
    r"schalt\w*\b(?:\W+\w+){0,6}?\W+(?:aus|ab)\b",
    r"disabl",
    r"turn(?:ed|ing|s)? off",
    r"switch(?:ed|ing)? off",
    r"desactiv",
    r"loswerden",
)
ADD = _action(
    "hinzufügen",
    r"hinzufug",
    r"hinzugefugt",
    r"fug\w*\b(?:\W+\w+){0,6}?\W+hinzu\b",
    r"anleg",
    r"angelegt",
    r"erstell",
    r"add(?:ed|ing|s)?\b",
    r"creat",
    r"ajout",
    r"cre[ea]",
)
DELETE = _action("löschen", r"losch", r"geloscht", r"delet", r"supprim")
REMOVE = _action("entfernen", r"entfern", r"remov", r"retir", r"get(?:ting)? rid of")
JOIN = _action("beitreten", r"beitret", r"beigetret", r"join", r"rejoindre", r"adher")
LEAVE = _action(
    "verlassen",
    r"verlass",
    r"austret",
    r"ausgetret",
    r"tret\w*\b(?:\W+\w+){0,6}?\W+aus\b",
    r"leav",
    r"quitt(?:er|e|ez)\b",
)
SUBSCRIBE = _action("abonnieren", r"abonnier", r"subscrib", r"s.?abonner")
UNSUBSCRIBE = _action(
    "abbestellen",
    r"abbestell",
    r"bestell\w*\b(?:\W+\w+){0,6}?\W+ab\b",
    r"abmeld",
    r"meld\w*\b(?:\W+\w+){0,6}?\W+ab\b",
    r"abgemeldet",
    r"unsubscrib",
    r"desabonn",
    r"desinscri",
)

DOWNLOAD = _action(
    "herunterladen",
    r"herunterlad",
    r"heruntergelad",
    r"runterlad",
    r"lad\w*\b(?:\W+\w+){0,6}?\W+(?:herunter|runter)\b",
    r"download",
    r"telecharg",
)
CANCEL = _action("kündigen", r"kundig", r"gekundigt", r"cancel", r"resili")
RESET = _action("zurücksetzen", r"zurucksetz", r"zuruckgesetzt", r"reset", r"reinitialis")
INVITE = _action(
    "einladen",
    r"einlad",
    r"eingeladen",
    r"lad\w*\b(?:\W+\w+){0,6}?\W+ein\b",
    r"invit",
)
SWITCH = _action("wechseln", r"wechsel", r"wechsl", r"gewechselt", r"switch")
CHANGE = _action(
    "ändern",
    r"ander",
    r"geandert",
    r"anpass",
    r"angepasst",
    r"bearbeit",
    r"aktualisier",
    r"verwalt",
    r"chang",
    r"modif",
    r"updat",
    r"manag",
    r"ger(?:er|ez)\b",
)

OPPOSITES: tuple[tuple[Action, Action], ...] = (
    (ENABLE, DISABLE),
    (ADD, DELETE),
    (ADD, REMOVE),
    (JOIN, LEAVE),
    (SUBSCRIBE, UNSUBSCRIBE),
)


def _mentions(action: Action, folded: str) -> bool:
    if action is ENABLE:
        # "deaktivieren"/"desactiver" contain the enabling word: mask the disabling ones first.
        folded = DISABLE.pattern.sub(" ", folded)
    if action is SUBSCRIBE:
        folded = UNSUBSCRIBE.pattern.sub(" ", folded)
    return bool(action.pattern.search(folded))


# Actions a guide's title names as its purpose. "ändern"/"verwalten" are broad: a guide
# that changes or manages something may answer any specific action on it.
SPECIFIC: tuple[Action, ...] = (
    *(a for pair in OPPOSITES for a in pair),
    DOWNLOAD,
    CANCEL,
    RESET,
    INVITE,
    SWITCH,
)
BROAD = (CHANGE,)
# Different words, often the same request: removing oneself from an organisation is leaving
# it, removing 2FA is switching it off, an invited customer is an added one.
COMPATIBLE = frozenset(
    frozenset(pair)
    for pair in (
        ("entfernen", "verlassen"),
        ("entfernen", "deaktivieren"),
        ("entfernen", "löschen"),
        ("einladen", "hinzufügen"),
        ("kündigen", "löschen"),
    )
)
# A past participle tells what happened ("Ich wurde eingeladen, …"), not what is asked.
_PARTICIPLE = re.compile(r"\b\w*ge\w+(?:t|en)\b")


def actions_in(text: str) -> set[str]:
    folded = fold_for_index(text)
    return {a.name for pair in OPPOSITES for a in pair if _mentions(a, folded)}


def specific_actions_in(text: str) -> set[str]:
    folded = fold_for_index(text)
    return {a.name for a in SPECIFIC if _mentions(a, folded)}


def action_mismatch(question: str, title: str) -> str:
    """ "" unless the question asks for a specific action and the guide's title names only
    other specific ones ("Organisation löschen" against "Organisation wechseln oder
    verlassen"). A title naming a broad action ("… verwalten", "… ändern") or none at all
    does not count against any question."""
    asked = specific_actions_in(_PARTICIPLE.sub(" ", fold_for_index(question)))
    if not asked:
        return ""
    folded_title = fold_for_index(title)
    if any(_mentions(a, folded_title) for a in BROAD):
        return ""
    purpose = specific_actions_in(title)
    if not purpose or asked & purpose:
        return ""
    if any(frozenset((a, p)) in COMPATIBLE for a in asked for p in purpose):
        return ""
    return f"{', '.join(sorted(asked))} ≠ {', '.join(sorted(purpose))}"


def action_conflict(question: str, title: str, headings: list[str]) -> str:
    """ "" when the guide may do what is asked; else "asked ≠ what the guide does".

    A conflict needs the question to ask for one side only and the guide (title and
    headings) to name the other side and never the asked one.
    """
    asked = actions_in(question)
    guide = actions_in(" ".join([title, *headings]))
    for one, other in OPPOSITES:
        for wanted, opposite in ((one, other), (other, one)):
            if (
                wanted.name in asked
                and opposite.name not in asked
                and opposite.name in guide
                and wanted.name not in guide
            ):
                return f"{wanted.name} ≠ {opposite.name}"
    return ""
