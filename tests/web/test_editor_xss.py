"""Attack strings in articles are rendered inert everywhere the editor and the guide pages
show them, and ordinary Markdown still renders."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from kb import catalog
from kb.store import ArticleStore
from tests.web.conftest import csrf_token
from web.markdown_render import ALLOWED_TAGS, render_markdown

ATTACKS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "[klick](javascript:alert(1))",
    "[klick](JaVaScRiPt:alert(1))",
    "![bild](javascript:alert(1))",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<img src="x" onerror="alert(1)"',  # unclosed tag
    "<scr<script>ipt>alert(1)</script>",
    '<iframe src="https://evil.example"></iframe>',
    "[daten](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![daten](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "<details open ontoggle=alert(1)>",
    '<object data="x.swf"></object><embed src="x.swf">',
    "<style>body{display:none}</style>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<p onclick=alert(1)>x</p>",
    "[x](vbscript:msgbox(1))",
    "<!--<script>alert(1)//-->",
    '<form action="javascript:alert(1)"><button>x</button></form>',
    '<base href="https://evil.example/">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<a href="https://example.com" onmouseover="alert(1)">x</a>',
    "</textarea><script>alert(1)</script>",
    '"><script>alert(1)</script>',
]

# Never on any page; the editor's own pages add nothing from this list either.
FORBIDDEN = {"script", "iframe", "object", "embed", "svg", "math", "style", "base", "frame",
             "frameset", "applet", "details", "link", "meta", "form", "input", "textarea",
             "button", "select", "option"}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster"}
BAD_SCHEMES = ("javascript:", "vbscript:", "data:")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    handle_startendtag = handle_starttag


def _tags(html: str):
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser.tags


def _url_is_bad(value: str) -> bool:
    squeezed = re.sub(r"[\x00-\x20]+", "", value).lower()
    return squeezed.startswith(BAD_SCHEMES)


def assert_inert_fragment(html: str) -> None:
    """Rendered article HTML: only allowlisted tags, no handlers, no script URLs."""
    for tag, attrs in _tags(html):
        assert tag in ALLOWED_TAGS, (tag, html)
        for name, value in attrs:
            assert not name.startswith("on"), (name, html)
            assert name != "style", html
            if name in URL_ATTRIBUTES and value:
                assert not _url_is_bad(value), (value, html)


def assert_inert_page(html: str) -> None:
    """A whole editor page: its own forms, meta tags and scripts are fine; nothing else."""
    for tag, attrs in _tags(html):
        values = dict(attrs)
        if tag == "script":  # only the site's own script files (the CSP: script-src 'self')
            src = values.get("src") or ""
            assert src.startswith("/") and not src.startswith("//"), html
        elif tag == "meta":
            assert set(values) <= {"charset", "name", "content"}, values
        elif tag == "link":  # own stylesheets, and the empty favicon of the customer pages
            href = values.get("href") or ""
            if values.get("rel") == "icon" and href == "data:,":
                continue
            assert values.get("rel") == "stylesheet" and href.startswith("/static/"), values
        elif tag == "form":
            assert (values.get("action") or "/").startswith("/"), values
        elif tag not in {"input", "textarea", "button", "select", "option"}:
            assert tag not in FORBIDDEN, (tag, html)
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            assert name != "style", tag
            if name in URL_ATTRIBUTES and value:
                assert not _url_is_bad(value), (tag, value)


@pytest.mark.parametrize("attack", ATTACKS)
def test_guide_rendering_makes_the_attack_inert(attack):
    html = render_markdown(f"## Schritte\n\nVorher.\n\n{attack}\n\nNachher.")
    assert_inert_fragment(html)
    # What comes before still renders (an unclosed <style> may swallow what follows it: the
    # editor sees that in the preview).
    assert "<h2>Schritte</h2>" in html and "<p>Vorher.</p>" in html


def test_preview_makes_every_attack_inert(login):
    client = login("editor")
    token = csrf_token(client, "/editor/")
    for attack in ATTACKS:
        response = client.post(
            "/editor/preview", json={"body": f"Text\n\n{attack}"}, headers={"X-CSRFToken": token}
        )
        assert response.status_code == 200
        assert_inert_fragment(response.get_json()["html"])


@pytest.mark.parametrize(
    "html",
    [
        "<script>alert(1)</script>",
        '<a href="jav\tascript:alert(1)">x</a>',
        '<img src="x" onerror="alert(1)">',
        "<svg></svg>",
        '<p style="color:red">x</p>',
    ],
)
def test_the_checks_themselves_catch_live_markup(html):
    with pytest.raises(AssertionError):
        assert_inert_fragment(html)
    with pytest.raises(AssertionError):
        assert_inert_page(html)


def test_ordinary_markdown_still_renders():
    html = render_markdown(
        "## Abschnitt\n\n### Unterabschnitt\n\n"
        "1. Öffnen Sie den **Manager**.\n2. Klicken Sie auf *Rechnungen*.\n\n"
        "- eins\n- zwei\n\n"
        "[Hilfe](https://www.example.com/hilfe) und [Mail](mailto:support@example.com)\n\n"
        "| Spalte | Wert |\n|---|---|\n| a | 1 |\n\n"
        "```\ncode <b>hier</b>\n```\n\nInline `code` und > Zitat\n\n> Zitat\n"
    )
    assert_inert_fragment(html)
    for expected in (
        "<h2>Abschnitt</h2>", "<h3>Unterabschnitt</h3>", "<ol>",
        "<li>Öffnen Sie den <strong>Manager</strong>.</li>", "<em>Rechnungen</em>", "<ul>",
        "<table>", "<th>Spalte</th>",
        "<td>1</td>", '<a href="https://www.example.com/hilfe" rel="noopener noreferrer nofollow">',
        'href="mailto:support@example.com"', "<pre><code>code &lt;b&gt;hier&lt;/b&gt;",
        "<code>code</code>", "<blockquote>",
    ):  # fmt: skip
        assert expected in html, expected


def test_editor_pages_show_attacks_as_text(app, login, web_settings):
    client = login("editor")
    body = "## Angriffe\n\n" + "\n\n".join(ATTACKS)
    title = '<script>alert("titel")</script> Angriff'
    token = csrf_token(client, "/editor/new")
    created = client.post(
        "/editor/new",
        data={
            "csrf_token": token, "title": title, "category": "Domains",
            "tags": '<img src=x onerror=alert(1)>, "><svg onload=alert(1)>', "body": body,
            "lang": "de", "action": "publish",
        },
    )  # fmt: skip
    assert created.status_code == 302, created.get_data(as_text=True)
    edit_url = created.headers["Location"]
    article_id = int(edit_url.rsplit("/", 1)[1])

    # A second version, then a conflict, so that every page shows the attacks.
    html = client.get(edit_url).get_data(as_text=True)
    base = re.search(r'name="base_revision" value="(\d+)"', html).group(1)
    form = {"csrf_token": token, "title": title, "category": "Domains", "tags": "x",
            "body": body + "\n\nmehr <script>alert(2)</script>", "base_revision": base,
            "action": "draft"}  # fmt: skip
    assert client.post(edit_url, data=form).status_code == 302
    conflict = client.post(edit_url, data=form)  # same base again
    assert conflict.status_code == 409

    pages = {
        "list": client.get("/editor/?q=Angriff").get_data(as_text=True),
        "edit": client.get(edit_url).get_data(as_text=True),
        "conflict": conflict.get_data(as_text=True),
        "revisions": client.get(f"/editor/articles/{article_id}/revisions").get_data(as_text=True),
        "diff": client.get(f"/editor/articles/{article_id}/diff?a=1&b=2").get_data(as_text=True),
    }
    # The customers' guide page shows the published version, not the draft on top of it.
    public = client.get(f"/hilfe/{article_id}")
    assert public.status_code == 200
    pages["guide"] = public.get_data(as_text=True)
    assert "mehr" not in pages["guide"]
    for name, html in pages.items():
        assert_inert_page(html)
        assert "Angriff" in html, name
    # The raw text is kept and shown escaped, so the editor sees exactly what was typed.
    assert "&lt;script&gt;alert(&#34;titel&#34;)&lt;/script&gt;" in pages["edit"]
    assert "&lt;/textarea&gt;&lt;script&gt;" in pages["edit"]
    # And the published file holds the text as written (the source of truth is not "cleaned").
    path = catalog.path_of(ArticleStore(web_settings.kb_dir), article_id)
    assert path is not None and "<svg onload=alert(1)>" in path.read_text(encoding="utf-8")
