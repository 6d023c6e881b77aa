"""The editors' KB routes (/kb/rescore, /kb/cluster, /kb/preview, /kb/reload-scope) over
loopback HTTP through KbClient: a real Sanic server with the KB blueprint, over a private
copy of the KB with the fake embedding model (the real model: tests/retrieval)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from core.settings import REPO_ROOT, load_settings, settings_env
from helpdesk.ports import free_port
from retrieval.preview import DRAFT_ID
from web.clients.kb import KbClient, KbQueryError

TOKEN = "test-kb-token"
SERVER = """
import sys
from sanic import Sanic
from actions.kb_routes import kb_blueprint
from core.settings import load_settings
from retrieval.retriever import Retriever
from tests.fakes import FakeEmbedder

retriever = Retriever(load_settings(), embedder=FakeEmbedder())
retriever.load()
app = Sanic("kb_editor_routes_test")
app.blueprint(kb_blueprint(retriever, sys.argv[2]))
app.run(host="127.0.0.1", port=int(sys.argv[1]), single_process=True, access_log=False)
"""
ROUTES = ("/kb/rescore", "/kb/cluster", "/kb/preview", "/kb/reload-scope")
DRAFT = {"id": None, "title": "Zustellung per Brieftaube", "markdown": "## Taube\n\nText.\n"}


@dataclasses.dataclass
class Server:
    url: str
    kb_dir: Path
    client: KbClient

    def post(self, path: str, payload: object = None, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        return requests.post(self.url + path, json=payload, headers=headers, timeout=60, **kwargs)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("kb_routes")
    shutil.copytree(
        REPO_ROOT / "kb", root / "kb", ignore=shutil.ignore_patterns("*.py", "__pycache__")
    )
    settings = dataclasses.replace(
        load_settings(), kb_dir=root / "kb", data_dir=root / "var", repo_root=root
    )
    port = free_port()
    log = (root / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port), TOKEN],
        cwd=REPO_ROOT,
        env={**os.environ, **settings_env(settings)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("KB server did not start:\n" + (root / "server.log").read_text())
            time.sleep(0.2)
        url = f"http://127.0.0.1:{port}"
        yield Server(url, root / "kb", KbClient(url, TOKEN))
    finally:
        process.terminate()
        process.wait(30)
        log.close()


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_needs_the_token(server: Server, route: str):
    url = server.url + route
    assert requests.post(url, json={}, timeout=10).status_code == 401
    wrong = {"Authorization": "Bearer falsch"}
    assert requests.post(url, json={}, headers=wrong, timeout=10).status_code == 401


def test_rescore(server: Server):
    queries = ["Rechnungsadresse hinzufügen", "", "Wie installiere ich WordPress?"]
    found = server.client.rescore(queries)
    assert list(found) == ["results"]
    results = found["results"]
    assert [r["query"] for r in results] == queries
    for result in results:
        assert set(result) == {"query", "verdict", "article_id", "title", "choices", "confidence"}
        assert result["verdict"] in ("answer", "clarify", "not_covered")
        assert isinstance(result["choices"], list) and 0 <= result["confidence"] <= 1
        answered = result["verdict"] == "answer"
        assert isinstance(result["article_id"], int) if answered else result["article_id"] is None
        assert bool(result["title"]) == answered
    assert results[1]["verdict"] == "not_covered"
    # The same verdict as a search.
    searched = server.post("/kb/search", {"query": queries[0]}).json()
    assert results[0]["verdict"] == searched["verdict"]
    assert results[0]["choices"] == searched["choices"]


def test_cluster(server: Server):
    questions = [
        "Kann ich mit PayPal bezahlen?",
        "Wie richte ich Outlook ein?",
        "Kann ich mit Paypal bezahlen",
        "Outlook einrichten",
    ]
    found = server.client.cluster(questions)
    assert list(found) == ["clusters"]
    clusters = found["clusters"]
    for cluster in clusters:
        assert set(cluster) == {"label", "terms", "members"}
        assert cluster["label"] == questions[cluster["members"][0]]
        assert all(isinstance(t, str) for t in cluster["terms"])
    assert sorted(i for c in clusters for i in c["members"]) == [0, 1, 2, 3]
    sizes = [len(c["members"]) for c in clusters]
    assert sizes == sorted(sizes, reverse=True)


def test_preview(server: Server):
    queries = ["Zustellung per Brieftaube", "Rechnungsadresse hinzufügen"]
    found = server.client.preview({**DRAFT, "lang": "de"}, queries)
    assert list(found) == ["results", "scope_topics"]
    results = found["results"]
    assert [r["query"] for r in results] == queries
    for result in results:
        assert set(result) == {"query", "before", "after", "changed"}
        for state in (result["before"], result["after"]):
            assert set(state) == {"verdict", "article_id"}
            assert state["verdict"] in ("answer", "clarify", "not_covered")
            assert state["article_id"] is None or isinstance(state["article_id"], int)
        assert result["changed"] == (result["before"] != result["after"])
    assert all(r["before"]["article_id"] != DRAFT_ID for r in results)
    # A draft replacing an existing article, and no questions at all.
    replacing = server.client.preview({**DRAFT, "id": 3, "lang": "de"}, queries[:1])
    assert len(replacing["results"]) == 1
    assert server.client.preview({**DRAFT, "lang": "de"}, [])["results"] == []


def test_reload_scope(server: Server):
    path = server.kb_dir / "out_of_scope.yml"
    original = path.read_text(encoding="utf-8")
    try:
        assert server.client.reload_scope() == {"topics": 21}
        path.write_text("topics:\n  - Brieftauben\n  - Rauchzeichen\n", encoding="utf-8")
        assert server.client.reload_scope() == {"topics": 2}
        path.write_text("topics: [kaputt\n", encoding="utf-8")
        with pytest.raises(KbQueryError, match="out_of_scope"):
            server.client.reload_scope()
        assert server.post("/kb/reload-scope", [1]).status_code == 400
    finally:
        path.write_text(original, encoding="utf-8")
    assert server.post("/kb/reload-scope").json() == {"topics": 21}  # an empty body is {}


LONG = "x" * 10_001
BAD_REQUESTS = [
    ("/kb/rescore", {}),
    ("/kb/rescore", {"queries": []}),
    ("/kb/rescore", {"queries": "Frage"}),
    ("/kb/rescore", {"queries": ["gut", 3]}),
    ("/kb/rescore", {"queries": ["?"] * 501}),
    ("/kb/rescore", {"queries": [LONG]}),
    ("/kb/cluster", {"questions": []}),
    ("/kb/cluster", {"questions": ["eine", None]}),
    ("/kb/cluster", {"questions": ["eine", "  "]}),
    ("/kb/cluster", {"questions": ["?"] * 2001}),
    ("/kb/cluster", {"questions": [LONG]}),
    ("/kb/preview", {"queries": ["x"]}),
    ("/kb/preview", {"article": {**DRAFT, "lang": "de"}}),
    ("/kb/preview", {"article": {**DRAFT, "lang": "de"}, "queries": ["?"] * 501}),
    ("/kb/preview", {"article": {**DRAFT, "lang": "xx"}, "queries": []}),
    ("/kb/preview", {"article": {**DRAFT, "lang": "de", "id": True}, "queries": []}),
    ("/kb/preview", {"article": {**DRAFT, "lang": "de", "id": 0}, "queries": []}),
    ("/kb/preview", {"article": {**DRAFT, "lang": "de", "id": "3"}, "queries": []}),
    ("/kb/preview", {"article": {**DRAFT, "lang": "de", "title": " "}, "queries": []}),
    ("/kb/preview", {"article": {**DRAFT, "lang": "de", "markdown": None}, "queries": []}),
    ("/kb/preview", {"article": {**DRAFT, "lang": "de", "markdown": "x" * 200_001}, "queries": []}),
    ("/kb/preview", {"article": "Entwurf", "queries": []}),
]


@pytest.mark.parametrize(("route", "payload"), BAD_REQUESTS)
def test_bad_requests_get_clear_errors(server: Server, route: str, payload: dict):
    response = server.post(route, payload)
    assert response.status_code == 400, response.text
    assert response.json()["error"]


@pytest.mark.parametrize("route", ROUTES[:3])
def test_malformed_json_is_a_bad_request(server: Server, route: str):
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    response = requests.post(server.url + route, data=b"{kaputt", headers=headers, timeout=10)
    assert response.status_code == 400


def test_reindex(server: Server):
    response = server.post("/kb/reindex", {"article_ids": [3]})
    assert response.status_code == 200, response.text
    report = response.json()
    assert set(report) == {"chunks", "articles", "took_ms"} and report["chunks"] > 0
