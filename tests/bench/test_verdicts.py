"""The three-way benchmark's own pieces: question kinds and the rates it reports."""

from __future__ import annotations

from pathlib import Path

from bench.common import NEAR_FILE, QUESTION_FILES, Question, load_questions
from bench.verdicts import Case, meets, rates
from retrieval.evidence import Evidence
from retrieval.verdict import ANSWER, CLARIFY, NOT_COVERED, Decision


def _case(kind: str, expected: set[int], top: int) -> Case:
    evidence = [Evidence(top, 3.0, 0.9, 1.0, (), "", 0.1)]
    return Case(Question("q", frozenset(expected), "dev", "de", kind), evidence, today=True)


def test_rates_count_each_kind_by_its_own_rule() -> None:
    cases = [
        _case("covered", {1}, 1),  # answered right
        _case("covered", {2}, 1),  # asked, the right guide among the choices
        _case("covered", {3}, 1),  # answered from a wrong guide
        _case("near", set(), 4),  # answered: wrong
        _case("near", set(), 4),  # asked: fine
        _case("offtopic", set(), 5),  # not covered
        _case("offtopic", set(), 5),  # asked: not what off-topic questions should get
    ]
    decisions = [
        Decision(ANSWER),
        Decision(CLARIFY, [1, 2]),
        Decision(ANSWER),
        Decision(ANSWER),
        Decision(CLARIFY, [4]),
        Decision(NOT_COVERED),
        Decision(CLARIFY, [5]),
    ]
    r = rates(cases, decisions)
    assert r.answer_right == 1 / 3 and r.answer_or_choice == 2 / 3 and r.covered_wrong == 1 / 3
    assert r.near_answered == 0.5 and r.near_clarified == 0.5 and r.refused == 0.5
    assert r.n == {"covered": 3, "near": 2, "offtopic": 2}
    assert not meets(r)


def test_question_files_mark_near_domain_and_off_topic_questions() -> None:
    questions = load_questions((*QUESTION_FILES, NEAR_FILE))
    kinds = {q.kind for q in questions}
    assert kinds == {"covered", "near", "offtopic"}
    assert all(q.expected for q in questions if q.kind == "covered")
    assert all(not q.expected for q in questions if q.kind != "covered")
    by_text = {q.text: q.kind for q in questions}
    assert by_text["Wie wird das Wetter morgen in Zürich?"] == "offtopic"  # section (a)
    assert by_text["Wie ändere ich den MX-Eintrag meiner Domain?"] == "near"  # inline "# near"
    near = [q for q in load_questions((NEAR_FILE,)) if q.kind == "near"]
    assert len(near) >= 120 and {q.split for q in near} == {"dev", "test"}
    assert Path(NEAR_FILE).exists()
