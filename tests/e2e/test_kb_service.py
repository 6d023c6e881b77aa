"""The action server owns the model and the index; the web app searches and re-indexes
through its loopback routes, guarded by the installation's KB token."""

from __future__ import annotations

import pytest
import requests

from helpdesk.stack import Stack
from web.clients.kb import KbClient, KbQueryError

pytestmark = pytest.mark.slow


@pytest.fixture
def kb(stack: Stack) -> KbClient:
    return KbClient.from_settings(stack.settings)


def test_search_and_answer_over_loopback(kb: KbClient):
    found = kb.search("Wie ändere ich meine Rechnungsadresse?", 3)
    assert found["answerable"] is True
    assert len(found["results"]) == 3
    assert 0 < found["confidence"] <= 1
    # Each result's own confidence; the best one's is the response's.
    assert found["results"][0]["confidence"] == found["confidence"]
    assert all(0 <= r["confidence"] <= 1 for r in found["results"])
    answer = kb.answer("Wie ändere ich meine Rechnungsadresse?")
    assert answer["answerable"] and answer["article_id"] == found["results"][0]["article_id"]
    assert "Quelle" in answer["markdown"]


def test_routes_need_the_token(stack: Stack):
    url = f"{stack.settings.action_server_url}/kb/search"
    assert requests.post(url, json={"query": "Rechnung"}, timeout=10).status_code == 401
    wrong = {"Authorization": "Bearer falsch"}
    assert requests.post(url, json={"query": "x"}, headers=wrong, timeout=10).status_code == 401


def test_bad_requests_get_clear_errors(kb: KbClient, stack: Stack):
    with pytest.raises(KbQueryError):
        kb.search("   ")
    url = f"{stack.settings.action_server_url}/kb/reindex"
    headers = kb._session.headers
    for body in ({"article_ids": []}, {"article_ids": ["1"]}, {"article_ids": True}, {}):
        response = requests.post(url, json=body, headers=headers, timeout=10)
        assert response.status_code == 400, body
    response = requests.post(url, data=b"{not json", headers=headers, timeout=10)
    assert response.status_code == 400
