"""What the simulated customers of ``bench.load`` say: scripted conversations in German.

Three scripts, drawn with weights so that about 70 % of the messages are KB questions (and
clicks on "Hat geholfen"), 20 % code verification (the request, sometimes a wrong code, the
right code) and 10 % requests for a human:

| script   | weight | messages                                                        |
|----------|--------|-----------------------------------------------------------------|
| kb       | 0.48   | 2-4 KB questions, a rating after about one answer in five       |
| verify   | 0.24   | ask to verify, [a wrong code], the right code, one KB question   |
| handoff  | 0.28   | one KB question, then "Ich möchte mit einem Mitarbeiter sprechen" |

KB questions are the German dev-split questions of ``bench/data/kb_questions.yml`` (off-topic
ones included, about a quarter, so some are refused as in real traffic), each with one of a
few everyday lead-ins and sign-offs ("Kurze Frage: …", "… Danke!"): a set of 104 questions
repeats, and the action server's query-vector cache would then answer most of them without
the model, which real traffic does not allow. Codes are the demo
customers' real ones (``helpdesk/demo.py``), so verification succeeds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bench.common import QUESTION_FILES, load_questions

# (intent wording, code, the words of a successful reply)
SUPPORT_REQUESTS = (
    "Ich möchte mich mit meinem Supportcode verifizieren",
    "Ich möchte mich verifizieren",
    "Verifiziere mich bitte",
)
VIP_REQUESTS = (
    "Ich möchte mich mit meinem VIP-Code verifizieren",
    "Als Premium-Kunde möchte ich mich mit dem VIP-Code identifizieren",
)
SUPPORT_CODES = ("482913", "715204")  # Muster AG, Beispiel GmbH
VIP_CODE = "903311"  # Beispiel GmbH (Premium)
HANDOFF_REQUESTS = (
    "Ich möchte mit einem Mitarbeiter sprechen",
    "Ich will mit einem Menschen reden",
    "verbinde mich mit dem Support",
)
# A customer (one client address) types at most this many wrong codes in a run: the lockout
# counts five failures per address within 15 minutes, and locking out would be the test's
# fault, not the server's.
WRONG_CODES_PER_CUSTOMER = 2
FEEDBACK_SHARE = 0.2
WRONG_CODE_SHARE = 0.3
SCRIPT_WEIGHTS = {"kb": 0.48, "verify": 0.24, "handoff": 0.28}


@dataclass(frozen=True)
class Step:
    kind: str  # kb, verify, code, code_wrong, handoff (feedback steps are added on the fly)
    text: str
    # A reply must contain one of these (case-insensitive); empty: any reply will do.
    expect: tuple[str, ...] = ()
    # The conversation leaves the bot (handoff): the script ends here.
    ends: bool = False


_kb_questions: list[str] = []
# Customers' ways of wrapping a question; with these most KB messages of a run are new texts.
LEAD_INS = ("", "Kurze Frage: ", "Sagen Sie, ", "Ich hätte eine Frage. ", "Bitte um Hilfe: ")
SIGN_OFFS = ("", " Danke!", " Vielen Dank.", " Danke im Voraus.", " Gruß", " lg")


def kb_questions() -> list[str]:
    if not _kb_questions:
        _kb_questions.extend(
            # The first set only: the load figures stay comparable across runs.
            q.text
            for q in load_questions(QUESTION_FILES[:1])
            if q.split == "dev" and q.lang == "de"
        )
    return _kb_questions


def _wrong_code(rng: random.Random) -> str:
    real = {*SUPPORT_CODES, VIP_CODE}
    while (code := f"{rng.randrange(100000, 1000000)}") in real:
        pass
    return code


class Scripts:
    """One customer's conversations; keeps count of the wrong codes this customer typed."""

    def __init__(self, rng: random.Random, *, wrong_codes: int = WRONG_CODES_PER_CUSTOMER):
        self.rng = rng
        self.wrong_codes_left = wrong_codes

    def next_conversation(self) -> tuple[str, list[Step]]:
        names = list(SCRIPT_WEIGHTS)
        name = self.rng.choices(names, weights=[SCRIPT_WEIGHTS[n] for n in names])[0]
        return name, getattr(self, f"_{name}")()

    def kb_step(self) -> Step:
        question = self.rng.choice(kb_questions())
        return Step("kb", self.rng.choice(LEAD_INS) + question + self.rng.choice(SIGN_OFFS))

    def wants_feedback(self) -> bool:
        return self.rng.random() < FEEDBACK_SHARE

    def _kb(self) -> list[Step]:
        return [self.kb_step() for _ in range(self.rng.randint(2, 4))]

    def _verify(self) -> list[Step]:
        vip = self.rng.random() < 0.25
        request = self.rng.choice(VIP_REQUESTS if vip else SUPPORT_REQUESTS)
        code = VIP_CODE if vip else self.rng.choice(SUPPORT_CODES)
        steps = [Step("verify", request, expect=("code",))]
        if self.wrong_codes_left > 0 and self.rng.random() < WRONG_CODE_SHARE:
            self.wrong_codes_left -= 1
            steps.append(Step("code_wrong", _wrong_code(self.rng), expect=("nicht bestätigt",)))
        steps.append(Step("code", code, expect=("verifiziert", "ist bestätigt")))
        return [*steps, self.kb_step()]

    def _handoff(self) -> list[Step]:
        request = self.rng.choice(HANDOFF_REQUESTS)
        return [self.kb_step(), Step("handoff", request, ends=True)]
