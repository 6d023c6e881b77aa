"""The bot on PostgreSQL and Redis: the helpdesk database and Rasa's tracker store on
PostgreSQL, Rasa's lock store on Redis, all chosen by URL."""

from __future__ import annotations

import dataclasses
import shutil
import uuid

import pytest
from sqlalchemy import text

from bench.services import postgres, postgres_bin, redis
from core.db import init_db, make_engine, session_factory, session_scope
from core.keys import code_key
from core.settings import load_settings
from helpdesk.demo import load_demo
from helpdesk.ports import free_port
from helpdesk.serve import send
from helpdesk.stack import Stack, bot_model_path
from tests.e2e.conftest import text_of

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store_stack(real_settings, tmp_path_factory):
    if postgres_bin() is None or shutil.which("redis-server") is None:
        pytest.skip("PostgreSQL or Redis not installed (scripts/install-test-services.sh)")
    root = tmp_path_factory.mktemp("stores")
    with postgres() as database_url, redis() as redis_url:
        settings = dataclasses.replace(
            real_settings,
            data_dir=root / "var",
            database_url=database_url,
            tracker_store_url=database_url,
            lock_store_url=redis_url,
            rasa_port=free_port(),
            action_port=free_port(),
        )
        shutil.copytree(real_settings.index_dir, settings.index_dir)
        engine = make_engine(database_url)
        init_db(engine)
        with session_scope(session_factory(engine)) as session:
            load_demo(session, code_key(settings))
        with Stack(settings, model=bot_model_path(load_settings())) as stack:
            yield stack, engine
        engine.dispose()


def test_conversation_on_postgresql_and_redis(store_stack):
    stack, engine = store_stack
    sender = f"pg-{uuid.uuid4().hex[:8]}"
    say = lambda message: text_of(send(stack.rest_url, sender, message))  # noqa: E731
    say("Ich möchte mich mit meinem Supportcode verifizieren")
    assert "Muster AG" in say("482913")
    assert "EUR 9.90" in say("Warum habe ich eine Mahnung für INV-2026-1002 bekommen?")
    with engine.connect() as db:
        events = (
            db.execute(text("SELECT data FROM events WHERE sender_id = :s"), {"s": sender})
            .scalars()
            .all()
        )
        attempts = db.execute(text("SELECT count(*) FROM verification_attempts")).scalar()
    assert len(events) > 10  # Rasa kept the conversation in PostgreSQL
    assert not [e for e in events if "482913" in e]
    assert attempts == 1
