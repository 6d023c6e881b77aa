"""kb.links: the one reader of links between articles (validator, editor and guide pages)."""

from __future__ import annotations

from pathlib import Path

import markdown
import pytest

from kb.article_input import ArticleInput, validate
from kb.links import MARKDOWN_EXTENSIONS, KbLink, KbLinkExtension, links_in
from kb.store import ArticleStore
from kb.validate import check_store
from web.markdown_render import render_markdown


def _targets(text: str) -> list[tuple[str, int]]:
    return [(link.target, link.line) for link in links_in(text)]


def test_links_are_found_with_their_lines() -> None:
    text = "Siehe [a](kb:14) und [b](kb:7).\n\nDann [c](../de/konto.md#schritt).\n"
    assert _targets(text) == [("kb:14", 1), ("kb:7", 1), ("../de/konto.md#schritt", 3)]


def test_other_links_are_no_kb_links() -> None:
    text = "[a](https://example.com/x.md) [b](#oben) [c](mailto:a@b.de) [d](bild.png) [e]()"
    assert links_in(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "[a](kb:14)",
        '[a](kb:14 "Titel")',
        "[a](kb:14 'Titel')",
        "[a](<kb:14>)",
        "[a]( kb:14 )",
        "[a [b] c](kb:14)",
        "**[a](kb:14)**",
        "- Schritt [a](kb:14)",
        "> [a](kb:14)",
        "| x |\n|---|\n| [a](kb:14) |",
        "![Bild](kb:14)",
    ],
)
def test_markdown_decides_what_link_syntax_is(text: str) -> None:
    assert [link.target for link in links_in(text)] == ["kb:14"]


def test_a_link_is_on_the_line_of_its_target() -> None:
    assert _targets("Text [a\nb](kb:14)") == [("kb:14", 2)]  # link text across lines
    assert _targets("Siehe [a][r].\n\n[r]: kb:14") == [("kb:14", 3)]  # reference-style
    assert _targets("[a](kb:9)\n\nText\n\n[b](kb:9)") == [("kb:9", 1), ("kb:9", 5)]
    # A target mentioned in prose before the link does not take the link's line.
    assert _targets("Artikel kb:9 hier.\n\n[a](kb:9)") == [("kb:9", 3)]
    # Lines count like str.splitlines, as the validator's line numbers always did.
    assert _targets("Zeile\r\n[a](kb:9)") == [("kb:9", 2)]


def test_links_in_code_count_as_they_always_did() -> None:
    text = "Schreiben Sie `[a](kb:1)`.\n\n    [b](kb:2)\n\n```markdown\n[c](kb:3)\n```\n"
    links = links_in(text)
    assert [(link.target, link.line, link.in_code) for link in links] == [
        ("kb:1", 1, True),
        ("kb:2", 3, True),
        ("kb:3", 6, True),
    ]


def test_escaped_links_and_raw_html_count_as_they_always_did() -> None:
    assert _targets("\\[a](kb:1)") == [("kb:1", 1)]
    assert _targets("<div>[a](kb:2)</div>") == [("kb:2", 1)]
    assert _targets("<!-- [a](kb:3) -->") == [("kb:3", 1)]


def test_link_properties() -> None:
    assert KbLink("kb:0014", 1).article_id == 14
    assert KbLink("kb:abc", 1).article_id is None
    assert KbLink("kb:²", 1).article_id is None  # a digit that int() refuses
    assert KbLink("kb:", 1).ref == ""
    assert KbLink("a/b.md#x", 1).file == "a/b.md"
    assert not KbLink("a/b.md", 1).is_id


FRONT = "---\nid: {id}\ntitle: T{id}\nlang: de\ncategory: Test\ntags: []\nstatus: published\n"
FRONT += "updated: 2026-01-01\n---\n\n"  # the body starts on line 11


def _check(tmp_path: Path, body: str) -> list[str]:
    folder = tmp_path / "articles" / "de"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "eins.md").write_text(FRONT.format(id=1) + "Text.\n", encoding="utf-8")
    (folder / "x.md").write_text(FRONT.format(id=2) + body + "\n", encoding="utf-8")
    problems = check_store(ArticleStore(tmp_path))
    return [f"{p.path.name}:{p.line}: {p.message}" for p in problems]


def test_validator_reports_unknown_articles_and_missing_files(tmp_path: Path) -> None:
    body = "[a](kb:1) [b](kb:999)\n\n[c](eins.md) [d](fehlt.md#x)\n\n`[e](kb:abc)`\n\n[f](kb:²)"
    assert _check(tmp_path, body) == [
        "x.md:11: Link auf unbekannten Artikel 'kb:999'.",
        "x.md:13: Link auf fehlende Datei 'fehlt.md#x'.",
        "x.md:15: Link auf unbekannten Artikel 'kb:abc'.",
        "x.md:17: Link auf unbekannten Artikel 'kb:²'.",
    ]


def test_editor_reports_unknown_articles_by_body_line(tmp_path: Path) -> None:
    data = ArticleInput(title="T", category="Test", body="Text\n\n[a](kb:1) [b](kb:999)\n[c](x.md)")
    errors = validate(data, kb_dir=tmp_path, allowed_categories=["Test"], known_ids={1})
    assert errors == {"body": ["Zeile 3: Link auf unbekannten Artikel „kb:999“."]}


def _pages(link: KbLink) -> str | None:
    if link.is_id:
        return f"/hilfe/{link.article_id}" if link.article_id is not None else None
    return "/hilfe/14" if link.file == "konto.md" else ""


def _render(text: str) -> str:
    extensions = [*MARKDOWN_EXTENSIONS, KbLinkExtension(_pages)]
    return markdown.markdown(text, extensions=extensions, output_format="html")


def test_the_extension_gives_links_the_resolved_target() -> None:
    assert _render("[a](kb:7)") == '<p><a href="/hilfe/7">a</a></p>'
    assert _render('[a](konto.md "T")') == '<p><a href="/hilfe/14" title="T">a</a></p>'
    assert _render("[a](fehlt.md)") == '<p><a href="">a</a></p>'  # unknown file: nowhere
    assert _render("[a](kb:abc)") == '<p><a href="kb:abc">a</a></p>'  # None: as written
    assert _render("[a](https://example.com)") == '<p><a href="https://example.com">a</a></p>'


def test_the_extension_rewrites_link_syntax_in_code_and_keeps_its_escaping() -> None:
    assert _render("`[a](kb:7) <b>`") == "<p><code>[a](/hilfe/7) &lt;b&gt;</code></p>"
    fenced = _render('```\n[a](kb:7) "q" <b> &amp;\n```')
    assert fenced == "<pre><code>[a](/hilfe/7) &quot;q&quot; &lt;b&gt; &amp;amp;\n</code></pre>"
    untouched = '```\nkein Link "q" <b> &amp;\n```'
    assert _render(untouched) == markdown.markdown(untouched, extensions=MARKDOWN_EXTENSIONS)


def test_render_markdown_resolves_kb_links_only_when_asked() -> None:
    rel = 'rel="noopener noreferrer nofollow"'
    assert render_markdown("[a](kb:7)") == f"<p><a {rel}>a</a></p>"  # kb: is no allowed scheme
    assert render_markdown("[a](kb:7)", kb_links=_pages) == f'<p><a href="/hilfe/7" {rel}>a</a></p>'
