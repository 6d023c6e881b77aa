"""The three-way decision: answer, ask which guide is meant, or say it is not covered."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.actions import action_conflict, actions_in
from retrieval.evidence import Evidence, salient_words
from retrieval.synonyms import SynonymIndex
from retrieval.verdict import ANSWER, CLARIFY, MAX_CHOICES, NOT_COVERED, Policy, decide

SYNONYMS = SynonymIndex.load(Path(__file__).parents[2] / "kb" / "synonyms.yml")


def _ev(article_id: int = 1, **kw) -> Evidence:
    values = {
        "score": 3.0,
        "confidence": 0.95,
        "coverage": 1.0,
        "missing": (),
        "action_conflict": "",
        "margin": 0.1,
    }
    values.update(kw)
    return Evidence(article_id=article_id, **values)


def test_a_clear_best_guide_is_the_answer() -> None:
    decision = decide([_ev(1), _ev(2, score=2.8, confidence=0.6)])
    assert decision.verdict == ANSWER and decision.answerable and decision.choices == []


def test_nothing_close_is_not_covered() -> None:
    assert decide([]).verdict == NOT_COVERED
    decision = decide([_ev(1, confidence=0.01), _ev(2, confidence=0.005)])
    assert decision.verdict == NOT_COVERED and not decision.answerable


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"confidence": 0.5}, "low confidence"),
        ({"coverage": 0.2, "missing": ("paypal",)}, "salient words missing: paypal"),
        ({"action_conflict": "aktivieren ≠ deaktivieren"}, "opposite action"),
        ({"margin": 0.0}, "second guide as close"),
    ],
)
def test_a_plausible_guide_that_is_not_clearly_right_asks(change: dict, reason: str) -> None:
    decision = decide([_ev(1, **change), _ev(2, score=2.99, confidence=0.4)])
    assert decision.verdict == CLARIFY and not decision.answerable
    assert decision.choices[0] == 1 and 2 in decision.choices
    assert any(r.startswith(reason) for r in decision.reasons)


def test_choices_are_close_guides_only_and_at_most_three() -> None:
    evidence = [
        _ev(1, confidence=0.5),
        _ev(2, score=2.99),
        _ev(3, score=2.98, action_conflict="hinzufügen ≠ löschen"),  # the opposite: not offered
        _ev(4, score=2.97),
        _ev(5, score=2.96),
        _ev(6, score=1.0),  # far below the best
    ]
    decision = decide(evidence)
    assert decision.choices == [1, 2, 4][:MAX_CHOICES]


def test_a_judge_model_that_prefers_another_guide_turns_an_answer_into_a_question() -> None:
    agree = [_ev(1, judge=0.8), _ev(2, score=2.5, judge=0.6)]
    disagree = [_ev(1, judge=0.6), _ev(2, score=2.5, judge=0.8)]
    assert decide(agree).verdict == ANSWER
    assert decide(disagree).verdict == CLARIFY
    assert decide(agree, Policy(judge_min_gap=0.3)).verdict == CLARIFY


@pytest.mark.parametrize(
    ("question", "asked"),
    [
        ("Wie schalte ich die 2FA ein?", {"aktivieren"}),
        ("Wie schalte ich die Zwei-Faktor-Authentifizierung wieder aus?", {"deaktivieren"}),
        ("2FA deaktivieren", {"deaktivieren"}),
        ("How do I enable two-factor authentication?", {"aktivieren"}),
        ("désactiver la double authentification", {"deaktivieren"}),
        ("Wie füge ich eine Rechnungsadresse hinzu?", {"hinzufügen"}),  # separable verb
        ("Wo lade ich meine Rechnung herunter?", set()),  # not an opposite pair's action
        ("Rechnungsadresse hinzufügen", {"hinzufügen"}),
        ("Konto löschen", {"löschen"}),
        ("Wie verlasse ich eine Organisation?", {"verlassen"}),
        ("Newsletter abbestellen", {"abbestellen"}),
        ("Wie ändere ich meine Adresse?", set()),  # "Adresse" is not "add"
    ],
)
def test_actions_are_read_in_german_english_and_french(question: str, asked: set) -> None:
    assert actions_in(question) == asked


def test_an_opposite_action_conflicts_but_a_guide_doing_both_does_not() -> None:
    title = "Zwei-Faktor-Authentifizierung (2FA) deaktivieren"
    assert action_conflict("Wie schalte ich 2FA ein?", title, []) == "aktivieren ≠ deaktivieren"
    assert action_conflict("how do I turn on 2FA", title, []) == "aktivieren ≠ deaktivieren"
    assert action_conflict("Wie schalte ich 2FA aus?", title, []) == ""
    both = "Renewal Warranty aktivieren oder deaktivieren"
    assert action_conflict("Renewal Warranty einschalten", both, []) == ""
    assert action_conflict("kAuth hinzufügen", "Konto aus kAuth entfernen", []) != ""
    # A question naming both sides is not a conflict: it may be about either.
    assert action_conflict("2FA ausschalten und wieder einschalten", title, []) == ""


def test_rare_words_are_salient_and_everyday_words_are_not() -> None:
    weights = {w.word: w.weight for w in salient_words("Kann ich mit PayPal bezahlen?", SYNONYMS)}
    assert weights["paypal"] > 3 * weights.get("bezahlen", 0.0)
    found = {w.word for w in salient_words("Wo finde ich bitte das?", SYNONYMS)}
    assert found <= {"finde"}  # stop words gone, everyday verbs weigh little or nothing


def test_french_elisions_name_the_synonym_group() -> None:
    words = salient_words("comment changer l'adresse de facturation", SYNONYMS)
    assert any(w.word == "facturation" and w.synonym_groups for w in words)


def test_another_specific_action_than_the_titles_is_a_mismatch() -> None:
    from retrieval.actions import action_mismatch

    leave = "Organisation wechseln oder verlassen"
    assert action_mismatch("Wie lösche ich eine ganze Organisation?", leave) != ""
    assert action_mismatch("Wie verlasse ich eine Organisation?", leave) == ""
    assert action_mismatch("Wie finde ich meine Organisation?", leave) == ""  # no action asked
    # A title that manages or changes something may answer any action on it.
    assert action_mismatch("Newsletter abbestellen", "Newsletter-Abonnement verwalten") == ""


def test_a_mismatch_asks_but_still_offers_the_guide() -> None:
    decision = decide([_ev(1, action_mismatch="löschen ≠ verlassen"), _ev(2, score=2.99)])
    assert decision.verdict == CLARIFY and decision.choices[:2] == [1, 2]
    assert any(r.startswith("another action") for r in decision.reasons)


def test_separable_verbs_are_read_with_their_particle() -> None:
    from retrieval.actions import specific_actions_in

    assert specific_actions_in("Wo lade ich meine Rechnung herunter?") == {"herunterladen"}
    assert specific_actions_in("Wie trete ich aus der Organisation aus?") == {"verlassen"}
    assert specific_actions_in("Wie melde ich mich vom Newsletter ab?") == {"abbestellen"}
    words = salient_words("Wie füge ich als Partner einen neuen Kunden hinzu?", SYNONYMS)
    verb = next(w for w in words if w.word == "fuge")
    assert "hinzufug" in verb.separable  # meets the guide's "hinzufügen"
    assert "hinzu" not in {w.word for w in words}  # the particle alone says nothing


def test_a_message_without_content_words_is_not_asked_about() -> None:
    assert decide([_ev(1, confidence=0.4, content=0.0)]).verdict == NOT_COVERED
    assert decide([_ev(1, confidence=0.4, content=0.5)]).verdict == CLARIFY
    assert {w.word for w in salient_words("Guten Morgen ????", SYNONYMS)} == set()


def test_related_actions_and_past_participles_are_no_mismatch() -> None:
    from retrieval.actions import action_mismatch

    leave = "Organisation wechseln oder verlassen"
    # Removing oneself from an organisation is leaving it; deleting it is not.
    assert action_mismatch("Wie entferne ich mich aus der Organisation?", leave) == ""
    assert action_mismatch("Wie lösche ich die Organisation?", leave) != ""
    assert action_mismatch("2FA entfernen", "Zwei-Faktor-Authentifizierung deaktivieren") == ""
    # "eingeladen" tells what happened; the question is about getting to the organisation.
    assert action_mismatch("Ich wurde eingeladen, wie wechsle ich dorthin?", leave) == ""
    assert action_mismatch("Wie lade ich einen Kollegen ein?", leave) != ""
