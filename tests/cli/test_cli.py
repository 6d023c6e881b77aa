"""The `helpdesk` command in-process, with the fake model (the real one: test_cli_real.py)."""

from __future__ import annotations

import io
import json

import pytest

from core.settings import Settings
from helpdesk import cli
from retrieval import retriever as service
from retrieval.confidence import Thresholds
from retrieval.retriever import Retriever
from tests.fakes import FakeEmbedder

CONTRACT_KEYS = {"query", "answerable", "verdict", "choices", "took_ms", "results"}
RESULT_KEYS = {"article_id", "title", "section", "score", "path", "snippet"}


@pytest.fixture
def fake_retriever(settings: Settings, monkeypatch) -> Retriever:
    # The fake model's cosines mean nothing: answer whatever ranks first.
    permissive = Thresholds(contrast_min=-9.0, dense_min=-1.0, dense_alone=-1.0, lexical_min=0.0)
    retriever = Retriever(settings, embedder=FakeEmbedder(), thresholds=permissive)
    monkeypatch.setattr(service, "get_retriever", lambda: retriever)
    return retriever


def _stdin(data: bytes):
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")


def test_search_json_contract(fake_retriever, capsys) -> None:
    assert cli.main(["search", "--json", "--top-k", "3", "Rechnungsadresse", "hinzufügen"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == CONTRACT_KEYS
    assert data["query"] == "Rechnungsadresse hinzufügen"
    assert isinstance(data["answerable"], bool) and isinstance(data["took_ms"], float)
    assert data["verdict"] in {"answer", "clarify", "not_covered"}
    assert data["answerable"] is (data["verdict"] == "answer")
    assert isinstance(data["choices"], list) and all(isinstance(i, int) for i in data["choices"])
    assert data["choices"] == [] or data["verdict"] == "clarify"
    assert len(data["results"]) == 3
    first = data["results"][0]
    assert set(first) == RESULT_KEYS
    assert (
        first["article_id"] == 3
        and first["path"] == "kb/articles/de/rechnungsadresse-hinzufuegen.md"
    )
    assert isinstance(first["score"], float) and first["snippet"]


def test_search_stdin_one_json_object_per_line(fake_retriever, capsys, monkeypatch) -> None:
    lines = [
        b"Rechnungsadresse hinzuf\xc3\xbcgen",
        b"",
        b"kaputt \xff\xfe utf8",
        b"steuer\x01zeichen\x1b[0m",
        b"Rechnung " * 12000,
    ]
    monkeypatch.setattr("sys.stdin", _stdin(b"\n".join(lines) + b"\n"))
    assert cli.main(["search", "--json", "-"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(lines)
    objects = [json.loads(line) for line in out]
    for obj in objects:
        assert set(obj) >= CONTRACT_KEYS
    assert objects[0]["results"][0]["article_id"] == 3
    assert objects[1]["results"] == [] and objects[1]["answerable"] is False and objects[1]["error"]
    assert objects[1]["verdict"] == "not_covered" and objects[1]["choices"] == []
    assert "\ufffd" in objects[2]["query"]
    assert objects[4]["results"]


def test_search_text_output_and_empty_query(fake_retriever, capsys) -> None:
    assert cli.main(["search", "Renewal Warranty"]) == 0
    out = capsys.readouterr().out
    assert "[4] Renewal Warranty aktivieren oder deaktivieren" in out
    assert cli.main(["search", " "]) == 2
    assert "Bitte geben Sie eine Frage ein" in capsys.readouterr().err


def test_top_k_must_be_positive(fake_retriever, capsys) -> None:
    assert cli.main(["search", "--top-k", "0", "x"]) == 2
    assert "--top-k" in capsys.readouterr().err


def test_ask_prints_the_guide_title(fake_retriever, capsys) -> None:
    assert cli.main(["ask", "Renewal Warranty für alle Produkte"]) == 0
    out = capsys.readouterr().out
    assert "Renewal Warranty aktivieren oder deaktivieren" in out


def test_index_command_reports_counts(fake_retriever, capsys) -> None:
    assert cli.main(["index"]) == 0
    assert "20 Artikel" in capsys.readouterr().out


def test_import_command_is_idempotent_on_the_committed_kb(
    fake_retriever, capsys, settings, monkeypatch
) -> None:
    from tests.conftest import SEED_DUMP

    monkeypatch.setenv("HELPDESK_KB_DIR", str(settings.kb_dir))
    assert cli.main(["kb", "import", str(SEED_DUMP)]) == 0
    assert "0 neu, 20 bereits importiert, 2 Zeilen Vorspann" in capsys.readouterr().out
    assert cli.main(["kb", "import", "/nonexistent/file.txt"]) == 2


def test_chat_offers_the_guides_and_answers_the_chosen_one(
    fake_retriever, capsys, monkeypatch
) -> None:
    from retrieval.answer import Answer, Choice

    asked: list[tuple[str, int | None]] = []
    chosen = fake_retriever.answer("Rechnungsadresse hinzufügen")

    def answer(query: str, article_id: int | None = None) -> Answer:
        asked.append((query, article_id))
        if article_id is None:
            choices = [Choice(3, "Rechnungsadresse hinzufügen"), Choice(10, "Zahlungsprofil")]
            return Answer(query, False, 0.4, verdict="clarify", choices=choices)
        return chosen

    monkeypatch.setattr(fake_retriever, "answer", answer)
    monkeypatch.setattr("sys.stdin", _stdin("Rechnung ändern?\n1\nNoch eine?\n0\n\n".encode()))
    assert cli.main(["chat"]) == 0
    out = capsys.readouterr().out
    assert "Meinen Sie eine dieser Anleitungen?" in out and "1. Rechnungsadresse hinzufügen" in out
    assert "0. Etwas anderes" in out
    assert asked == [("Rechnung ändern?", None), ("Rechnung ändern?", 3), ("Noch eine?", None)]
    assert "Quelle: Anleitung" in out and "nichts gefunden" in out
