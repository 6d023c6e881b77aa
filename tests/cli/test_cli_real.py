"""The installed command in a subprocess, with the real model: the JSON contract end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from core.settings import REPO_ROOT

pytestmark = pytest.mark.slow


def _run(args: list[str], settings, stdin: bytes = b"") -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "HELPDESK_KB_DIR": str(settings.kb_dir),
        "HELPDESK_DATA_DIR": str(settings.data_dir),
        "HELPDESK_EMBEDDING_MODEL": settings.embedding_model,
    }
    return subprocess.run(
        [sys.executable, "-m", "helpdesk.cli", *args],
        input=stdin,
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=300,
        check=False,
    )


def test_search_json_stdin_survives_bad_input(real_settings, real_retriever) -> None:
    lines = [
        b"Wie deaktiviere ich die Zwei-Faktor-Authentifizierung?",
        b"",
        b"\xff\xfe\xfd kaputtes utf-8",
        b"Supportcode\x00\x07\x1b[2J finden",
        ("Rechnung " * 12_000).encode(),
        b"Wie installiere ich WordPress?",
    ]
    result = _run(["search", "--json", "-"], real_settings, b"\n".join(lines) + b"\n")
    assert result.returncode == 0, result.stderr.decode()
    assert b"Traceback" not in result.stderr
    objects = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(objects) == len(lines)
    for obj in objects:
        assert {"query", "answerable", "verdict", "choices", "took_ms", "results"} <= obj.keys()
        for hit in obj["results"]:
            assert set(hit) == {"article_id", "title", "section", "score", "path", "snippet"}
            assert (REPO_ROOT / hit["path"]).exists() or hit["path"].startswith("kb/")
    assert objects[0]["results"][0]["article_id"] == 6 and objects[0]["answerable"]
    assert objects[1]["error"] and objects[1]["results"] == []
    assert objects[3]["results"][0]["article_id"] == 1
    assert objects[5]["answerable"] is False and objects[5]["verdict"] != "answer"
    assert objects[0]["verdict"] == "answer"
    assert all(obj["took_ms"] > 0 for obj in objects if obj["results"])


def test_ask_prints_the_answer_with_its_guide(real_settings, real_retriever) -> None:
    result = _run(["ask", "Wo", "finde", "ich", "meinen", "VIP-Code?"], real_settings)
    assert result.returncode == 0
    out = result.stdout.decode()
    assert "Supportcode und VIP-Code" in out and "Quelle: Anleitung" in out


def test_empty_query_is_a_clear_error(real_settings) -> None:
    result = _run(["search", "   "], real_settings)
    assert result.returncode == 2
    assert "Bitte geben Sie eine Frage ein" in result.stderr.decode()
    assert b"Traceback" not in result.stderr
