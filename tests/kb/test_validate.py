from __future__ import annotations

from pathlib import Path

import pytest

from helpdesk import cli
from kb.store import ArticleStore
from kb.validate import check_store

GOOD = """---
id: {id}
title: {title}
lang: de
category: Test
tags: [a]
status: published
updated: 2026-11-27
---

Text mit [Link](kb:1).
"""


def _write(root: Path, name: str, text: str, lang: str = "de") -> Path:
    path = root / "articles" / lang / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _messages(root: Path) -> list[str]:
    return [f"{p.path.name}:{p.line}: {p.message}" for p in check_store(ArticleStore(root))]


def test_clean_kb_has_no_problems(tmp_path: Path) -> None:
    _write(tmp_path, "eins.md", GOOD.format(id=1, title="Eins"))
    assert _messages(tmp_path) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("id: {id}\n", ""), "x.md:1: Feld 'id' fehlt."),
        (GOOD.replace("status: published", "status: live"), "x.md:7: Unbekannter Status 'live'"),
        (GOOD.replace("lang: de", "lang: xx"), "x.md:4: Unbekannte Sprache 'xx'"),
        (GOOD.split("---\n\n")[0] + "---\n\n   \n", "x.md:10: Der Artikel hat keinen Text."),
        (GOOD.replace("kb:1", "kb:999"), "x.md:11: Link auf unbekannten Artikel 'kb:999'."),
        (GOOD.replace("kb:1", "fehlt.md"), "x.md:11: Link auf fehlende Datei 'fehlt.md'."),
        (
            GOOD.replace("title: {title}", "title: [kaputt"),
            "x.md:3: Front matter ist kein gültiges YAML",
        ),
        ("Kein Front Matter\n", "x.md:1: Front matter fehlt"),
        (GOOD.replace("updated: 2026-11-27", "updated: gestern"), "x.md:8: Datum 'gestern'"),
    ],
)
def test_problems_are_reported_with_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    _write(tmp_path, "eins.md", GOOD.format(id=1, title="Eins"))
    _write(tmp_path, "x.md", text.replace("{id}", "2").replace("{title}", "X"))
    messages = _messages(tmp_path)
    assert any(m.startswith(expected) for m in messages), messages


def test_duplicate_ids_name_both_files(tmp_path: Path) -> None:
    _write(tmp_path, "eins.md", GOOD.format(id=1, title="Eins"))
    _write(tmp_path, "zwei.md", GOOD.format(id=1, title="Zwei"))
    messages = _messages(tmp_path)
    assert "eins.md:2: Doppelte id 1 (auch in zwei.md)." in messages
    assert "zwei.md:2: Doppelte id 1 (auch in eins.md)." in messages


def test_language_must_match_folder(tmp_path: Path) -> None:
    _write(tmp_path, "eins.md", GOOD.format(id=1, title="Eins"), lang="fr")
    assert _messages(tmp_path) == ["eins.md:4: Sprache 'de' passt nicht zum Ordner 'fr'."]


def test_cli_check_exits_non_zero_on_problems(tmp_path: Path, monkeypatch, capsys) -> None:
    _write(tmp_path, "eins.md", GOOD.format(id=1, title="Eins").replace("published", "weg"))
    monkeypatch.setenv("HELPDESK_KB_DIR", str(tmp_path))
    assert cli.main(["kb", "check"]) == 1
    assert "eins.md:7: Unbekannter Status 'weg'" in capsys.readouterr().out


def test_cli_check_passes_on_the_committed_kb(capsys) -> None:
    assert cli.main(["kb", "check"]) == 0
    assert "keine Probleme" in capsys.readouterr().out
