"""Rate limits shared by several web processes (HELPDESK_RATE_LIMIT_STORAGE_URL): two real
web app processes count against one Redis, so a second replica does not double a limit; and
a Redis that is down does not take the chat down."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator

import pytest
import requests

from bench.services import redis
from core.settings import Settings
from helpdesk.ports import free_port
from tests.web.fakes import FakeBot, FakeKb
from tests.web.processes import started, web_process
from web import create_app

API = "/api/chat/conversations"


@pytest.fixture
def redis_url() -> Iterator[str]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (scripts/install-test-services.sh)")
    with redis() as url:
        yield url


def test_two_web_processes_share_one_count(web_settings: Settings, redis_url: str) -> None:
    settings = dataclasses.replace(
        web_settings, chat_rate_limit="3/minute", rate_limit_storage_url=redis_url
    )
    first = web_process(settings, "web-1")
    second = web_process(settings, "web-2")
    try:
        # One after the other: the first creates the database's tables.
        started(first)
        started(second)
        urls = [server.health_url.replace("/healthz", API) for server in (first, second)]
        statuses = [requests.post(urls[n % 2], json={}, timeout=10).status_code for n in range(4)]
        # Alone, each process would have allowed three from this address.
        assert statuses == [201, 201, 201, 429]
        assert requests.post(urls[1], json={}, timeout=10).status_code == 429
        assert requests.post(urls[0], json={}, timeout=10).status_code == 429
    finally:
        first.stop()
        second.stop()


def test_a_redis_that_is_down_falls_back_to_counting_in_the_process(
    web_settings: Settings,
) -> None:
    nothing_listens = f"redis://127.0.0.1:{free_port()}/0"
    settings = dataclasses.replace(
        web_settings, chat_rate_limit="2/minute", rate_limit_storage_url=nothing_listens
    )
    app = create_app(
        {"TESTING": True, "SETTINGS": settings, "RASA_CLIENT": FakeBot(), "KB_CLIENT": FakeKb()}
    )
    client = app.test_client()
    statuses = [client.post(API, json={}).status_code for _ in range(3)]
    assert statuses == [201, 201, 429]
