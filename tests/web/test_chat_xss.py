"""Attack strings in chat messages come back inert in the ``html`` the widget inserts,
whoever wrote them (customer, bot, agent); ordinary Markdown still renders."""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import pytest

from core.conversations import Conversation
from core.users import User
from tests.web.fakes import FakeBot
from web.db import get_db
from web.services.chat import agent_reply

API = "/api/chat/conversations"

ATTACKS = [
    "<script>alert(1)</script>",
    '"><script>alert(1)</script>',
    "<scr<script>ipt>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<img src=x onerror=alert(1)",  # unclosed
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[a](javascript&colon;alert(1))",
    "![bild](javascript:alert(1))",
    "<javascript:alert(1)>",
    '<a href="jav&#x09;ascript:alert(1)">klick</a>',
    '<a href="&#106;avascript:alert(1)">klick</a>',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "[y](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<object data="data:text/html,<script>alert(1)</script>"></object>',
    "<details open ontoggle=alert(1)>x</details>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<input autofocus onfocus=alert(1)>",
    '<form action="javascript:alert(1)"><button>x</button></form>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "[z](vbscript:msgbox(1))",
    "<a href='x' onmouseover='alert(1)'>x</a>",
    "<body onload=alert(1)>",
]
DANGEROUS_TAGS = {"script", "iframe", "object", "embed", "svg", "math", "style", "form", "input",
                  "meta", "link", "base", "details", "noscript", "button", "textarea"}  # fmt: skip


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def assert_inert(html: str) -> None:
    assert "<script" not in html.lower()
    assert "javascript:" not in html.lower()
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag not in DANGEROUS_TAGS, (tag, html)
        for name, value in attrs:
            assert not name.startswith("on"), (name, html)  # no " on...=" in any tag
            assert name != "style", html
            if name in ("href", "src"):
                url = re.sub(r"[\s\x00-\x1f]", "", html_lib.unescape(value or "")).lower()
                assert not url.startswith(("javascript:", "data:", "vbscript:")), html
    # What is left of an attack is text: any "on...=" there is outside a tag.
    for start_tag in re.findall(r"<[a-z][^>]*>", html, re.IGNORECASE):
        assert not re.search(r"\son\w+\s*=", start_tag), html


@dataclass
class EchoBot(FakeBot):
    """Says back whatever it gets, with a guide whose URL is an attack too."""

    def send(self, sender: str, text: str, metadata: dict[str, Any] | None = None) -> list[dict]:
        self.sent.append((sender, text, metadata or {}))
        return [
            {"recipient_id": sender, "text": text, "buttons": [{"title": text, "payload": "/x"}]},
            {
                "recipient_id": sender,
                "custom": {"article": {"id": 7, "title": text, "url": "javascript:alert(1)"}},
            },
        ]


@pytest.fixture
def fake_bot() -> EchoBot:
    return EchoBot()


@pytest.fixture
def conversation_id(client) -> str:
    return client.post(API, json={}).get_json()["conversation_id"]


@pytest.mark.parametrize("attack", ATTACKS)
def test_attack_strings_come_back_inert(client, conversation_id, attack):
    response = client.post(f"{API}/{conversation_id}/messages", json={"text": attack})
    assert response.status_code == 200
    customer, bot = response.get_json()["messages"]
    assert bot["text"] == attack  # the bot really said it
    for message in (customer, bot):
        assert_inert(message["html"])
    assert bot["article"]["url"].startswith("http")  # never the bot's javascript: URL


def test_the_table_is_big_enough():
    assert len(ATTACKS) >= 12


def test_agent_messages_are_sanitized_too(app, client, conversation_id):
    with app.app_context():
        session = get_db()
        conversation = session.get(Conversation, conversation_id)
        conversation.state = "waiting"
        agent = session.query(User).filter_by(username="agent").one()
        for attack in ATTACKS:
            agent_reply(session, conversation, agent.id, attack)
        session.commit()
    messages = client.get(f"{API}/{conversation_id}/messages").get_json()["messages"]
    assert len(messages) == len(ATTACKS)
    for message in messages:
        assert_inert(message["html"])


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("**fett** und *kursiv*", ["<strong>fett</strong>", "<em>kursiv</em>"]),
        ("- eins\n- zwei", ["<ul>", "<li>eins</li>", "<li>zwei</li>"]),
        ("1. erst\n2. dann", ["<ol>", "<li>erst</li>"]),
        (
            "[Anleitung](https://example.org/hilfe/7)",
            ['<a href="https://example.org/hilfe/7"', ">Anleitung</a>"],
        ),
        ("Tippen Sie `ls -la` ein", ["<code>ls -la</code>"]),
        ("### Schritte\n\nText", ["<h3>Schritte</h3>"]),
        ("[Mail](mailto:support@example.org)", ['href="mailto:support@example.org"']),
    ],
)
def test_ordinary_markdown_still_renders(client, conversation_id, markdown, expected):
    response = client.post(f"{API}/{conversation_id}/messages", json={"text": markdown})
    bot = response.get_json()["messages"][1]
    for fragment in expected:
        assert fragment in bot["html"], bot["html"]
    assert_inert(bot["html"])
