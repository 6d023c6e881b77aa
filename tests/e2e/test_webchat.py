"""The real third-party widget rasa-webchat on a provider's page (another origin than Rasa),
in headless chromium, talking to Rasa's socket.io channel: the page's origin allowed
(HELPDESK_ALLOWED_ORIGINS), a customer's question typed into it gets the bot's answer; from a
page whose origin is not allowed, the browser never gets a connection.

The bundle comes from scripts/install-webchat.sh (``make test-services``); the page is
served by tests/e2e/webchat.py.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from core.settings import Settings
from helpdesk.serve import send
from helpdesk.stack import Stack
from tests.e2e import browser
from tests.e2e.conftest import own_stack
from tests.e2e.webchat import BUNDLE, Site, have_webchat, webchat_site

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (requirements-dev)")
from playwright.sync_api import Browser, sync_playwright  # after the skip above

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not browser.have_chromium(),
        reason=f"no chromium at {browser.CHROMIUM}: run scripts/install-browser.sh",
    ),
    pytest.mark.skipif(
        not have_webchat(),
        reason=f"no rasa-webchat bundle at {BUNDLE}: run scripts/install-webchat.sh (needs npm "
        "and the registry once)",
    ),
]

QUESTION = "Wie aktiviere ich die Zwei-Faktor-Authentifizierung?"


def _opening(text: str) -> str:
    """A message's first line as plain words: the widget shows Rasa's Markdown rendered
    (no link targets, no emphasis marks), the REST channel gives it raw."""
    first = re.sub(r"\]\([^)]*\)", "", text.strip().splitlines()[0])
    return " ".join(re.sub(r"[*_`#>\[\]]", " ", first).split())[:60]


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    """The provider's page; started before Rasa, whose allowed origins are fixed at start."""
    with webchat_site() as provider:
        yield provider


@pytest.fixture(scope="module")
def webchat_stack(stack_settings: Settings, site: Site, tmp_path_factory) -> Iterator[Stack]:
    """A stack of its own that allows the page's origin and no other."""
    var = tmp_path_factory.mktemp("webchat") / "var"
    with own_stack(stack_settings, var, allowed_origins=(site.origin,)) as stack:
        yield stack


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """One browser for the module; each conversation gets a fresh context (storage)."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=browser.CHROMIUM, args=browser.FLAGS)
        yield launched
        launched.close()


def test_a_question_in_rasa_webchat_on_another_origin_gets_the_bots_answer(
    site, webchat_stack, chromium
):
    outcome = site.converse(webchat_stack.settings.rasa_url, QUESTION, chromium=chromium)
    assert outcome.greeted, f"the widget never got the greeting: {outcome}"
    assert outcome.reply, f"no answer in the widget: {outcome}"
    assert 200 in outcome.statuses, outcome
    # The same answer as the REST channel gives (the web app's way in): the question went
    # through the widget, the socket and the bot's KB action, not into some error reply.
    sender = f"rest-{uuid.uuid4().hex}"
    rest = [m["text"] for m in send(webchat_stack.rest_url, sender, QUESTION) if m.get("text")]
    assert rest and _opening(outcome.reply) == _opening(rest[0]), (outcome, rest)
    # The widget's socket.io client (3.x) opens with HTTP long-polling, then upgrades.
    assert outcome.transports[0] == "polling" and "websocket" in outcome.transports, outcome
    # The KB action's custom part for the web app must not break the turn on socket.io:
    # Rasa 3.6 raised TypeError there and did not save the turn (bot/socketio_custom.py).
    log = (webchat_stack.settings.data_dir / "log" / "rasa.log").read_text(errors="replace")
    assert "unexpected keyword argument" not in log


def test_rasa_webchat_on_an_origin_not_allowed_gets_no_connection(webchat_stack, chromium):
    with webchat_site() as other:  # another port: another origin, not in the allowed list
        # Cheap: engine.io refuses the very first request, so a few seconds decide it.
        rasa = webchat_stack.settings.rasa_url
        outcome = other.converse(rasa, QUESTION, timeout_s=4, chromium=chromium)
    assert not outcome.greeted and outcome.reply is None, outcome
    assert 200 not in outcome.statuses, outcome  # no handshake got through
    assert outcome.failed, f"the browser never tried the socket: {outcome}"
    assert any("blocked by CORS policy" in line for line in outcome.console), outcome
