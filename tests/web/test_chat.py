"""The chat API the widget uses: contract, errors, rate limits, Rasa down, handoff, codes."""

from __future__ import annotations

import dataclasses

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.conversations import ChatMessage, Conversation
from core.models import ClarifyChoice, KbQuestion
from core.users import User
from support import clarify
from tests.web.fakes import GUIDE, FakeBot, FakeKb
from web import create_app
from web.db import get_db
from web.services.chat import agent_reply, close
from web.services.conversation import get_conversation
from web.services.limited import (
    HANDOFF_WITHOUT_BOT,
    LIMITED_PREFIX,
    THANKS_WITHOUT_BOT,
    UNAVAILABLE,
)

API = "/api/chat/conversations"
MESSAGE_KEYS = {"id", "sender", "text", "html", "time", "buttons", "article", "limited", "verdict"}


def start(client: FlaskClient, **kwargs) -> str:
    response = client.post(API, json={}, **kwargs)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["conversation_id"]


def say(client: FlaskClient, cid: str, text: str, **body):
    return client.post(f"{API}/{cid}/messages", json={"text": text, **body})


def stored(app: Flask, cid: str) -> list[ChatMessage]:
    with app.app_context():
        conversation = get_conversation(get_db(), cid)
        assert conversation is not None
        return list(conversation.messages)


# --- the contract ------------------------------------------------------------------------


def test_new_conversation(client):
    response = client.post(API, json={})
    assert response.status_code == 201
    body = response.get_json()
    assert body["state"] == "bot"
    assert body["messages"] == []
    assert len(body["conversation_id"]) >= 32  # unguessable: it is the customer's credential
    assert "Set-Cookie" not in response.headers  # no cookies: nothing for CSRF to ride on


def test_a_turn_returns_the_customers_message_then_the_bots(client, fake_bot):
    cid = start(client)
    response = say(client, cid, "Wie ändere ich die Rechnungsadresse?")
    assert response.status_code == 200
    body = response.get_json()
    assert body["state"] == "bot"
    customer, bot = body["messages"]  # the guide's separate `custom` joined the text
    assert set(customer) == MESSAGE_KEYS and set(bot) == MESSAGE_KEYS
    assert customer["sender"] == "customer"
    assert customer["text"] == "Wie ändere ich die Rechnungsadresse?"
    assert bot["sender"] == "bot"
    assert "<strong>Rechnungsadresse ändern</strong>" in bot["html"]
    assert bot["buttons"] == [{"title": "Hat geholfen", "payload": "/feedback_helpful"}]
    assert bot["article"] == GUIDE
    assert bot["limited"] is False
    assert bot["id"] > customer["id"]
    assert bot["time"].endswith("+00:00")
    assert fake_bot.sent == [
        (cid, "Wie ändere ich die Rechnungsadresse?", {"client_ip": "127.0.0.1"})
    ]
    assert response.headers["Cache-Control"] == "no-store"


def test_button_payload_goes_to_the_bot_and_its_title_is_shown(app, client, fake_bot):
    cid = start(client)
    say(client, cid, "Rechnungsadresse")
    response = say(client, cid, "/feedback_helpful", display="Hat geholfen")
    assert response.get_json()["messages"][0]["text"] == "Hat geholfen"
    assert fake_bot.sent[-1][1] == "/feedback_helpful"
    assert stored(app, cid)[2].text == "Hat geholfen"


def test_typed_intents_do_not_reach_rasa_as_intents(client, fake_bot):
    """Rasa would read '/intent{...}' as an intent with entities: only offered buttons may."""
    cid = start(client)
    response = say(client, cid, '/human_handoff{"x": 1}', display="Harmlos")
    assert fake_bot.sent[-1][1] == 'human_handoff{"x": 1}'
    assert response.get_json()["messages"][0]["text"] == '/human_handoff{"x": 1}'  # as typed
    assert say(client, cid, " / / ").status_code == 400


def test_polling_returns_messages_after_an_id(client):
    cid = start(client)
    first = say(client, cid, "Hallo").get_json()["messages"]
    say(client, cid, "Noch eine Frage")
    everything = client.get(f"{API}/{cid}/messages").get_json()
    assert everything["state"] == "bot"
    assert len(everything["messages"]) == 4
    newer = client.get(f"{API}/{cid}/messages?after={first[-1]['id']}").get_json()["messages"]
    assert newer[0]["text"] == "Noch eine Frage"
    assert all(m["id"] > first[-1]["id"] for m in newer)
    last = newer[-1]["id"]
    assert client.get(f"{API}/{cid}/messages?after={last}").get_json()["messages"] == []


def test_codes_are_stored_masked_but_reach_the_bot(app, client, fake_bot):
    cid = start(client)
    response = say(client, cid, "Mein Code ist 482913")
    shown = response.get_json()["messages"][0]
    assert "482913" not in shown["text"] and "[Code entfernt]" in shown["text"]
    assert fake_bot.sent[-1][1] == "Mein Code ist 482913"
    assert all("482913" not in m.text for m in stored(app, cid))
    polled = client.get(f"{API}/{cid}/messages").get_data(as_text=True)
    assert "482913" not in polled


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "status", "words"),
    [
        ("{kaputt", "application/json", 400, "ungültig"),
        ('["eine", "liste"]', "application/json", 400, "ungültig"),
        ('{"text": 42}', "application/json", 400, "ungültig"),
        ('{"text": "hallo", "display": 1}', "application/json", 400, "ungültig"),
        ('{"nachricht": "hallo"}', "application/json", 400, "ungültig"),
        ('{"text": "   "}', "application/json", 400, "Bitte geben Sie eine Nachricht ein"),
        ("text=hallo", "application/x-www-form-urlencoded", 415, "JSON"),
        ('{"text": "hallo"}', "text/plain", 415, "JSON"),
    ],
)
def test_bad_requests_get_a_german_error(client, fake_bot, body, content_type, status, words):
    cid = start(client)
    response = client.post(f"{API}/{cid}/messages", data=body, content_type=content_type)
    assert response.status_code == status
    assert words in response.get_json()["error"]
    assert fake_bot.sent == []


def test_too_long_message(client, fake_bot):
    cid = start(client)
    response = say(client, cid, "a" * 2001)
    assert response.status_code == 400
    assert "zu lang" in response.get_json()["error"]
    assert say(client, cid, "a" * 2000).status_code == 200


def test_nothing_is_stored_for_a_refused_message(app, client):
    cid = start(client)
    say(client, cid, "")
    assert stored(app, cid) == []


def test_too_big_request(client):
    cid = start(client)
    response = say(client, cid, "a" * 40_000)
    assert response.status_code == 413
    assert "zu groß" in response.get_json()["error"]


def test_unknown_conversation(client):
    for response in (
        say(client, "gibt-es-nicht", "Hallo"),
        client.get(f"{API}/gibt-es-nicht/messages"),
        client.get(f"{API}/{'x' * 100}/messages"),
    ):
        assert response.status_code == 404
        assert "Gespräch" in response.get_json()["error"]


def test_bad_after_parameter(client):
    cid = start(client)
    for value in ("abc", "-1", "1.5", "9" * 30):
        response = client.get(f"{API}/{cid}/messages?after={value}")
        assert response.status_code == 400, value
        assert "after" in response.get_json()["error"]


def test_no_csrf_token_needed_but_no_get_for_writes(client):
    assert client.get(API).status_code == 405


# --- rate limits -------------------------------------------------------------------------


@pytest.fixture
def tiny_limit_app(web_settings) -> Flask:
    settings = dataclasses.replace(web_settings, chat_rate_limit="3/minute")
    return create_app(
        {"TESTING": True, "SETTINGS": settings, "RASA_CLIENT": FakeBot(), "KB_CLIENT": FakeKb()}
    )


def _ip(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def test_rate_limit_per_conversation(tiny_limit_app):
    client = tiny_limit_app.test_client()
    cid = start(client, **_ip("10.0.0.1"))
    # Different addresses, one conversation: the conversation's own limit stops it.
    for n in range(3):
        response = client.post(
            f"{API}/{cid}/messages", json={"text": "Hallo"}, **_ip(f"10.1.0.{n}")
        )
        assert response.status_code == 200
    response = client.post(f"{API}/{cid}/messages", json={"text": "Hallo"}, **_ip("10.1.0.9"))
    assert response.status_code == 429
    assert "Zu viele Anfragen" in response.get_json()["error"]


def test_rate_limit_per_ip(tiny_limit_app):
    client = tiny_limit_app.test_client()
    conversations = [start(client, **_ip(f"10.2.0.{n}")) for n in range(4)]
    statuses = [
        client.post(f"{API}/{cid}/messages", json={"text": "Hallo"}, **_ip("10.3.0.1")).status_code
        for cid in conversations
    ]
    assert statuses == [200, 200, 200, 429]
    # Another address is not affected.
    other = client.post(
        f"{API}/{conversations[3]}/messages", json={"text": "Hi"}, **_ip("10.3.0.2")
    )
    assert other.status_code == 200


def test_creating_conversations_is_rate_limited_per_ip(tiny_limit_app):
    client = tiny_limit_app.test_client()
    statuses = [client.post(API, json={}, **_ip("10.4.0.1")).status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]


# --- Rasa or the KB down -----------------------------------------------------------------


def test_rasa_down_answers_from_the_kb_marked_limited(client, fake_bot):
    fake_bot.down = True
    cid = start(client)
    response = say(client, cid, "Wie ändere ich die Rechnungsadresse?")
    assert response.status_code == 200
    answer = response.get_json()["messages"][1]
    assert answer["limited"] is True
    assert answer["text"].startswith(LIMITED_PREFIX)
    assert "<strong>Rechnungsadresse ändern</strong>" in answer["html"]
    assert answer["article"]["id"] == GUIDE["id"]
    assert answer["article"]["url"].endswith(f"/hilfe/{GUIDE['id']}")


def test_rasa_and_kb_down_say_so_in_german(client, fake_bot, fake_kb):
    fake_bot.down = fake_kb.down = True
    cid = start(client)
    response = say(client, cid, "Hallo?")
    assert response.status_code == 200
    reply = response.get_json()["messages"][1]
    assert reply == {**reply, "sender": "bot", "text": UNAVAILABLE, "limited": True}
    assert reply["buttons"] == [
        {"title": "Mit einem Mitarbeiter sprechen", "payload": "/human_handoff"}
    ]
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize("bot_says", ["nothing", "limited"])
def test_action_server_down_answers_from_the_kb_marked_limited(app, client, fake_bot, bot_says):
    """Rasa is up but its custom actions fail: it says nothing (a form's check) or that it
    is limited (bot/action_unavailable.py). The limited mode answers, once."""
    fake_bot.silent, fake_bot.limited = bot_says == "nothing", bot_says == "limited"
    cid = start(client)
    response = say(client, cid, "Wie ändere ich die Rechnungsadresse?")
    _customer, answer = response.get_json()["messages"]
    assert answer["limited"] is True and answer["sender"] == "bot"
    assert answer["text"].startswith(LIMITED_PREFIX)
    assert [m.sender for m in stored(app, cid)] == ["customer", "bot"]  # kept, answered once


@pytest.mark.parametrize("bot_says", ["nothing", "limited"])
def test_action_server_down_offers_a_human(app, client, fake_bot, fake_kb, bot_says):
    """Without the action server there is no KB either: the customer is offered a human,
    and the button works although the bot's handoff action cannot run."""
    fake_bot.silent, fake_bot.limited = bot_says == "nothing", bot_says == "limited"
    fake_kb.down = True
    cid = start(client)
    reply = say(client, cid, "Meine Rechnung ist falsch").get_json()["messages"][1]
    assert reply["text"] == UNAVAILABLE and reply["limited"] is True
    button = reply["buttons"][0]
    response = say(client, cid, button["payload"], display=button["title"])
    body = response.get_json()
    assert body["state"] == "waiting"
    assert body["messages"][1]["text"] == HANDOFF_WITHOUT_BOT
    assert fake_bot.sent[-1][1] == "/human_handoff"  # the bot was asked first
    senders = [m.sender for m in stored(app, cid)]
    assert senders == ["customer", "bot", "customer", "system"]


def test_rasa_down_and_a_button_pressed(app, client, fake_bot):
    cid = start(client)
    say(client, cid, "Rechnungsadresse")
    fake_bot.down = True
    response = say(client, cid, "/feedback_helpful", display="Hat geholfen")
    assert response.get_json()["messages"][1]["text"] == THANKS_WITHOUT_BOT
    with app.app_context():
        session = get_db()
        conversation = session.get(Conversation, cid)
        session.add(
            ChatMessage(
                conversation=conversation,
                sender="bot",
                text="Möchten Sie mit einem Mitarbeiter sprechen?",
                data={
                    "buttons": [
                        {"title": "Mit einem Mitarbeiter sprechen", "payload": "/human_handoff"}
                    ]
                },
            )
        )
        session.commit()
    response = say(client, cid, "/human_handoff", display="Mit einem Mitarbeiter sprechen")
    body = response.get_json()
    assert body["state"] == "waiting"  # the handoff works without the bot
    assert body["messages"][1]["text"] == HANDOFF_WITHOUT_BOT


# --- handoff -----------------------------------------------------------------------------


def test_handoff_then_messages_go_to_the_agent_not_the_bot(app, client, fake_bot):
    cid = start(client)
    response = say(client, cid, "Ich möchte mit einem Mensch sprechen")
    body = response.get_json()
    assert body["state"] == "waiting"
    assert "Mitarbeiter" in body["messages"][1]["text"]
    sent_before = len(fake_bot.sent)

    response = say(client, cid, "Mein Anliegen ist dringend")
    body = response.get_json()
    assert body["state"] == "waiting"
    assert [m["sender"] for m in body["messages"]] == ["customer"]
    assert len(fake_bot.sent) == sent_before  # not forwarded to the bot
    after = body["messages"][0]["id"]

    with app.app_context():
        session = get_db()
        agent = session.query(User).filter_by(username="agent").one()
        agent_reply(
            session, session.get(Conversation, cid), agent.id, "Guten Tag, wie kann ich helfen?"
        )
        session.commit()
    polled = client.get(f"{API}/{cid}/messages?after={after}").get_json()
    assert polled["state"] == "agent"
    assert [(m["sender"], m["text"]) for m in polled["messages"]] == [
        ("agent", "Guten Tag, wie kann ich helfen?")
    ]

    with app.app_context():
        session = get_db()
        close(session, session.get(Conversation, cid), fake_bot)
        session.commit()
    polled = client.get(f"{API}/{cid}/messages?after={after}").get_json()
    assert polled["state"] == "bot"
    assert polled["messages"][-1]["sender"] == "system"
    say(client, cid, "Danke")
    assert len(fake_bot.sent) == sent_before + 1  # the bot has it again


# --- clarifying questions ----------------------------------------------------------------

PDF = "Wie lade ich meine Rechnung als PDF herunter?"
CHOOSE_3 = '/choose_guide{"guide_id":"3"}'
CHOOSE_NONE = '/choose_guide{"guide_id":"none"}'


def choices_in(app: Flask) -> list[ClarifyChoice]:
    with app.app_context():
        return list(get_db().scalars(select(ClarifyChoice).order_by(ClarifyChoice.id)))


def test_the_bots_clarifying_question_reaches_the_widget_with_its_buttons(client, fake_bot):
    cid = start(client)
    _, question = say(client, cid, PDF).get_json()["messages"]  # the custom joined the text
    assert question["text"] == "Meinen Sie eine dieser Anleitungen?"
    assert question["verdict"] == "clarify"
    assert question["buttons"] == [
        {"title": "Rechnungsadresse hinzufügen", "payload": CHOOSE_3},
        {"title": "Zahlungsprofil ändern", "payload": '/choose_guide{"guide_id":"10"}'},
        {"title": "Etwas anderes", "payload": CHOOSE_NONE},
    ]
    # A pressed choice goes to Rasa as the payload (Rasa reads it without NLU).
    response = say(client, cid, CHOOSE_3, display="Rechnungsadresse hinzufügen")
    assert fake_bot.sent[-1][1] == CHOOSE_3
    assert response.get_json()["messages"][0]["text"] == "Rechnungsadresse hinzufügen"


def test_rasa_down_asks_back_with_the_same_buttons_and_answers_the_choice(
    app, client, fake_bot, fake_kb
):
    fake_bot.down = True
    cid = start(client)
    _, question = say(client, cid, PDF).get_json()["messages"]
    assert question["text"] == "Meinen Sie eine dieser Anleitungen?"
    assert (question["limited"], question["verdict"]) == (True, "clarify")
    assert [b["payload"] for b in question["buttons"]] == [
        CHOOSE_3,
        '/choose_guide{"guide_id":"10"}',
        CHOOSE_NONE,
    ]
    customer, answer = say(client, cid, CHOOSE_3, display="Rechnungsadresse hinzufügen").get_json()[
        "messages"
    ]
    assert customer["text"] == "Rechnungsadresse hinzufügen"
    assert fake_kb.chosen == [(PDF, 3)]
    assert answer["text"].startswith(LIMITED_PREFIX)
    assert "<strong>Rechnungsadresse hinzufügen</strong>" in answer["html"]
    assert answer["article"]["id"] == 3 and answer["article"]["url"].endswith("/hilfe/3")
    [choice] = choices_in(app)
    assert (choice.conversation_id, choice.query) == (cid, PDF)
    assert (choice.offered, choice.chosen_article_id) == ([3, 10], 3)
    # The choice is made: another button of the same question is stale now.
    reply = say(client, cid, CHOOSE_NONE, display="Etwas anderes").get_json()["messages"][1]
    assert reply["text"] == clarify.STALE
    assert len(choices_in(app)) == 1


def test_rasa_down_something_else_is_not_covered_with_search_and_a_human(app, client, fake_bot):
    fake_bot.down = True
    cid = start(client)
    say(client, cid, PDF)
    reply = say(client, cid, CHOOSE_NONE, display="Etwas anderes").get_json()["messages"][1]
    assert reply["text"].startswith("Dazu gibt es leider noch keine Anleitung.")
    assert reply["verdict"] == "not_covered"
    search = "http://127.0.0.1:8000/hilfe/?q=Wie%20lade%20ich%20meine%20Rechnung"
    assert f'href="{search}' in reply["html"]
    assert reply["buttons"] == [
        {"title": "Mit einem Mitarbeiter sprechen", "payload": "/human_handoff"}
    ]
    [choice] = choices_in(app)
    assert choice.chosen_article_id is None
    # The offered human works without the bot.
    body = say(client, cid, "/human_handoff", display="Mit einem Mitarbeiter sprechen").get_json()
    assert body["state"] == "waiting"


def test_rasa_down_question_not_covered(client, fake_bot):
    fake_bot.down = True
    cid = start(client)
    reply = say(client, cid, "Wie installiere ich WordPress?").get_json()["messages"][1]
    assert reply["sender"] == "bot" and reply["limited"] is True
    assert reply["text"].startswith("Dazu gibt es leider noch keine Anleitung.")
    assert "/hilfe/?q=Wie%20installiere%20ich%20WordPress%3F" in reply["html"]
    assert [b["payload"] for b in reply["buttons"]] == ["/human_handoff"]


def test_rasa_down_after_the_bot_asked_back(app, client, fake_bot, fake_kb):
    """The bot asked while Rasa was up; the choice comes while it is down."""
    cid = start(client)
    say(client, cid, f"{PDF} 482913")  # the stored question is masked
    fake_bot.down = True
    say(client, cid, CHOOSE_3, display="Rechnungsadresse hinzufügen")
    [(query, chosen)] = fake_kb.chosen
    assert chosen == 3 and query.startswith(PDF) and "482913" not in query
    assert choices_in(app)[0].offered == [3, 10]


def test_rasa_down_foreign_and_stale_choices(app, client, fake_bot, fake_kb):
    fake_bot.down = True
    cid = start(client)
    say(client, cid, PDF)
    say(client, cid, "Wie ändere ich die Rechnungsadresse?")  # answered: the choice is closed
    reply = say(client, cid, CHOOSE_3, display="Rechnungsadresse hinzufügen").get_json()
    assert reply["messages"][1]["text"] == clarify.STALE
    # A typed payload that no button offered reaches nobody as an intent.
    say(client, cid, PDF)
    typed = say(client, cid, '/choose_guide{"guide_id":"99"}').get_json()["messages"][1]
    assert typed["verdict"] == "answer"  # read as words, answered from the KB
    assert fake_kb.chosen == [] and choices_in(app) == []


def test_rasa_down_questions_are_stored_with_their_verdict(app, client, fake_bot):
    fake_bot.down = True
    cid = start(client)
    say(client, cid, PDF)
    say(client, cid, "Wie installiere ich WordPress?")
    with app.app_context():
        rows = get_db().scalars(select(KbQuestion).order_by(KbQuestion.id)).all()
        stored = [(q.conversation_id, q.query, q.verdict, q.article_id) for q in rows]
    assert stored == [
        (cid, PDF, "clarify", None),
        (cid, "Wie installiere ich WordPress?", "not_covered", None),
    ]
