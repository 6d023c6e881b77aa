"""Markdown to HTML that is safe to put into a page: rendered with ``markdown``, then cleaned
by an allowlist sanitizer (nh3, the Rust ammonia library). Used for articles and chat."""

from __future__ import annotations

import markdown
import nh3

from kb.links import MARKDOWN_EXTENSIONS, KbLinkExtension, Resolver

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "strong", "sub", "sup",
    "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"align"},
    "td": {"align"},
    "abbr": {"title"},
}
# No javascript:, data: or vbscript: links; relative links stay allowed.
URL_SCHEMES = {"http", "https", "mailto", "tel"}
EXTENSIONS = list(MARKDOWN_EXTENSIONS)


def render_markdown(text: str, kb_links: Resolver | None = None) -> str:
    """Sanitized HTML for ``text``; raw HTML in the Markdown is cleaned, never trusted.

    With ``kb_links``, links to other articles (``kb:12``, ``datei.md``) get the target it
    returns for them; without, they stay as written (and the sanitizer drops ``kb:``)."""
    extensions: list = [*EXTENSIONS, KbLinkExtension(kb_links)] if kb_links else EXTENSIONS
    html = markdown.markdown(text, extensions=extensions, output_format="html")
    return sanitize(html)


def sanitize(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
