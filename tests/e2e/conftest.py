"""The real servers, started once for the end-to-end tests: Rasa (Python 3.10) with the
trained bot, the action server with the real model and KB, a private database with the
demo data. Messages go through Rasa's REST webhook, as the web app sends them."""

from __future__ import annotations

import contextlib
import dataclasses
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from bench.private_stack import load_demo_data
from core.db import make_engine, session_factory, session_scope
from core.settings import Settings, load_settings
from helpdesk.ports import free_port
from helpdesk.serve import send
from helpdesk.stack import RASA_BIN, Stack, bot_model_path


@pytest.fixture(scope="session")
def stack_settings(real_settings: Settings) -> Settings:
    data_dir = real_settings.data_dir
    web_port = free_port()
    return dataclasses.replace(
        real_settings,
        database_url=f"sqlite:///{data_dir / 'helpdesk.db'}",
        tracker_store_url=f"sqlite:///{data_dir / 'rasa-tracker.db'}",
        rasa_port=free_port(),
        action_port=free_port(),
        web_port=web_port,
        public_url=f"http://127.0.0.1:{web_port}",
        # Every test talks from 127.0.0.1; the limits themselves are tested in tests/web.
        chat_rate_limit="100000/minute",
        verify_rate_limit="100000/minute",
        demo=False,
    )


@pytest.fixture(scope="session")
def stack(stack_settings: Settings) -> Iterator[Stack]:
    model = bot_model_path(load_settings())
    if not model.is_file() or not RASA_BIN.exists():
        pytest.fail("the trained bot and .venv-rasa are needed: run 'make test' (it trains)")
    load_demo_data(stack_settings)
    with Stack(stack_settings, model=model) as running:
        yield running


@contextlib.contextmanager
def own_stack(stack_settings: Settings, var: Path, **overrides: object) -> Iterator[Stack]:
    """A stack of a test module's own (settings the shared stack does not have), with its
    own data, ports and demo data; the shared stack's vectors are reused, not encoded again."""
    model = bot_model_path(load_settings())
    if not model.is_file() or not RASA_BIN.exists():
        pytest.fail("the trained bot and .venv-rasa are needed: run 'make test' (it trains)")
    settings = dataclasses.replace(
        stack_settings,
        data_dir=var,
        database_url=f"sqlite:///{var / 'helpdesk.db'}",
        tracker_store_url=f"sqlite:///{var / 'rasa-tracker.db'}",
        rasa_port=free_port(),
        action_port=free_port(),
        web_port=free_port(),
        **overrides,
    )
    if stack_settings.index_dir.is_dir():
        shutil.copytree(
            stack_settings.index_dir, settings.index_dir, ignore=shutil.ignore_patterns(".lock")
        )
    load_demo_data(settings)
    with Stack(settings, model=model) as stack:
        yield stack


Chat = Callable[[str], list[dict]]


@pytest.fixture
def chat(stack: Stack) -> Chat:
    """A new conversation: ``chat("Hallo")`` returns the bot's messages."""
    sender = f"test-{uuid.uuid4().hex[:12]}"

    def say(text: str) -> list[dict]:
        return send(stack.rest_url, sender, text)

    say.sender = sender  # type: ignore[attr-defined]
    return say


# Questions the KB answers with a choice of guides (a hosting provider's invoices, which no
# guide covers, sound like several that do). The tests take the first that does: the
# verdict's thresholds may still move a little.
CLARIFY_CANDIDATES = (
    "Wie lade ich meine Rechnung als PDF herunter?",
    "Wie kann ich die Rechnung als PDF speichern?",
    "Ich brauche eine Kopie meiner Rechnung",
    "Wie kann ich meine Rechnung herunterladen?",
)


def with_sentence(body: str, heading: str, sentence: str) -> str:
    """``body`` with ``sentence`` as the first paragraph of the section ``heading``: the
    extractive answer shows whole sections, so it appears in the widget's answer."""
    line = re.compile(rf"^(#{{2,6}}[ \t]+{re.escape(heading)}[ \t]*)$", re.MULTILINE)
    assert line.search(body), f"no section {heading!r} in the article"
    return line.sub(lambda m: f"{m.group(1)}\n\n{sentence}", body, count=1)


def text_of(messages: list[dict]) -> str:
    return "\n".join(m.get("text", "") for m in messages if m.get("text"))


@dataclasses.dataclass(frozen=True)
class Staff:
    agent: str
    editor: str
    password: str


@pytest.fixture(scope="session")
def staff(stack: Stack) -> Staff:
    """An agent and an editor in the servers' database, for the browser tests' logins."""
    from core.users import add_user

    people = Staff(agent="e2e-agent", editor="e2e-editor", password=uuid.uuid4().hex)
    engine = make_engine(stack.settings.database_url)
    try:
        with session_scope(session_factory(engine)) as session:
            add_user(session, people.agent, people.password, "agent")
            add_user(session, people.editor, people.password, "editor")
    finally:
        engine.dispose()
    return people


def form_token(page: str) -> str:
    """The CSRF token of a page's form (or of its meta tag, for the console's scripts)."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'name="csrf-token" content="([^"]+)"', page
    )
    assert match, "no CSRF token"
    return match.group(1)


def logged_in(base: str, username: str, password: str) -> requests.Session:
    """A staff member's HTTP session with the running web app."""
    web = requests.Session()
    login = web.get(f"{base}/login", timeout=10)
    response = web.post(
        f"{base}/login",
        data={"username": username, "password": password, "csrf_token": form_token(login.text)},
        timeout=10,
    )
    assert response.ok and "/login" not in response.url
    return web
