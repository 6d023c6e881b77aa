"""Links between KB articles, read by Python-Markdown itself: the one parser of them.

An article links to another as ``[Text](kb:12)`` or by a relative path to its file,
``[Text](benutzerkonto-loeschen.md)``. :class:`KbLinkExtension` runs while Markdown is
processed, and Markdown's own link reader decides what link syntax is: ``"titles"``,
``<…>`` targets, brackets in the text, links across lines, reference-style links, images.

Where the syntax counts is kept as it always was: everywhere it is written. Markdown makes
no link of ``[a](kb:1)`` in a code span, a code block, after a backslash or in raw HTML, but
the validator, the editor and the guide pages have always checked (and the pages rewritten)
those too, so the tree processor reads Markdown's leftover text, code and raw HTML as well.

The validator and the editor ask :func:`links_in`; the guide pages render with the
extension and a ``resolve`` callback that turns each link into a page URL.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from xml.etree.ElementTree import Element

import markdown
from markdown import util
from markdown.extensions import Extension
from markdown.inlinepatterns import LINK_RE, LinkInlineProcessor
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import Treeprocessor

# The Markdown the KB is written in; the web renderer uses the same, so "is it code?" and
# "is it a link?" get one answer everywhere.
MARKDOWN_EXTENSIONS = ("extra", "sane_lists")
ID_PREFIX = "kb:"
_LINK_ATTRIBUTE = {"a": "href", "img": "src"}


@dataclass(frozen=True)
class KbLink:
    """A link to another article: its target as written, the line it is on (1-based,
    counted like ``str.splitlines``) and the target's offset in the Markdown text."""

    target: str
    line: int
    offset: int = 0
    in_code: bool = False

    @property
    def is_id(self) -> bool:
        return self.target.startswith(ID_PREFIX)

    @property
    def ref(self) -> str:
        """What follows ``kb:``."""
        return self.target[len(ID_PREFIX) :] if self.is_id else ""

    @property
    def article_id(self) -> int | None:
        # isdecimal, not isdigit: "²" is a digit that int() refuses.
        return int(self.ref) if self.ref.isdecimal() else None

    @property
    def file(self) -> str:
        """The path of a file link, without its ``#anchor``."""
        return self.target.split("#")[0]


Resolver = Callable[[KbLink], str | None]


def is_kb_target(target: str) -> bool:
    """``kb:<id>``, or a path to a ``.md`` file that is no URL."""
    return target.startswith(ID_PREFIX) or (
        target.split("#")[0].endswith(".md") and "://" not in target
    )


def links_in(markdown_text: str) -> list[KbLink]:
    """Every KB link of ``markdown_text``, in the order they are written."""
    md, extension = _parser()
    md.reset()
    md.convert(markdown_text)
    return sorted(extension.found, key=lambda link: link.offset)


_local = threading.local()


def _parser() -> tuple[markdown.Markdown, KbLinkExtension]:
    # One parser per thread: building one costs more than parsing an article.
    if not hasattr(_local, "parser"):
        extension = KbLinkExtension()
        _local.parser = (markdown.Markdown(extensions=[*MARKDOWN_EXTENSIONS, extension]), extension)
    return _local.parser


class KbLinkExtension(Extension):
    """Collects the KB links into ``found``; with ``resolve``, a link whose resolver returns
    a string gets that as its target (``None`` leaves it as written)."""

    def __init__(self, resolve: Resolver | None = None) -> None:
        super().__init__()
        self.resolve = resolve
        self.reset()

    def reset(self) -> None:
        self.found: list[KbLink] = []
        self.source = ""
        self.fenced = range(0)

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.registerExtension(self)  # so that md.reset() resets it
        md.preprocessors.register(_KeepSource(md, self), "kb_links_source", 100)
        # Fenced code goes to the raw-HTML stash, not the tree: note which stash entries
        # fenced_code_block (priority 25) adds.
        md.preprocessors.register(_FenceMark(md, self, first=True), "kb_links_fence_in", 25.5)
        md.preprocessors.register(_FenceMark(md, self, first=False), "kb_links_fence_out", 24.5)
        # After "unescape" (0), so that a target's backslash escapes are resolved.
        md.treeprocessors.register(_KbLinkTreeprocessor(md, self), "kb_links", -1)


class _KeepSource(Preprocessor):
    def __init__(self, md: markdown.Markdown, extension: KbLinkExtension) -> None:
        super().__init__(md)
        self.extension = extension

    def run(self, lines: list[str]) -> list[str]:
        self.extension.source = "\n".join(lines)
        return lines


class _FenceMark(Preprocessor):
    def __init__(self, md: markdown.Markdown, extension: KbLinkExtension, first: bool) -> None:
        super().__init__(md)
        self.extension, self.first = extension, first

    def run(self, lines: list[str]) -> list[str]:
        count = len(self.md.htmlStash.rawHtmlBlocks)
        start = count if self.first else self.extension.fenced.start
        self.extension.fenced = range(start, count)
        return lines


class _KbLinkTreeprocessor(Treeprocessor):
    def __init__(self, md: markdown.Markdown, extension: KbLinkExtension) -> None:
        super().__init__(md)
        self.extension = extension
        self.syntax = LinkInlineProcessor(LINK_RE, md)
        self.locator: _Locator | None = None

    def run(self, root: Element) -> None:
        self.locator = None
        self._visit(root)

    def _visit(self, element: Element) -> None:
        attribute = _LINK_ATTRIBUTE.get(element.tag)
        target = element.get(attribute) if attribute else None
        if attribute and target is not None and is_kb_target(target):
            new = self._found(target, in_code=False)
            if new is not None:
                element.set(attribute, new)
        if element.text:
            code = element.tag == "code"  # kept HTML-escaped by Markdown
            element.text = self._text(element.text, util.code_escape if code else None)
        for child in element:
            self._visit(child)
        if element.tail:
            element.tail = self._text(element.tail, None)

    def _text(self, text: str, escape: Callable[[str], str] | None) -> str:
        """Link syntax that Markdown left as text, and the raw HTML standing in ``text``."""
        new = self._scan(text, escape)
        if escape is None:
            for match in util.HTML_PLACEHOLDER_RE.finditer(text):
                self._stashed(int(match.group(1)))
        if new is text:
            return text
        return util.AtomicString(new) if isinstance(text, util.AtomicString) else new

    def _stashed(self, index: int) -> None:
        """Raw HTML and fenced code, which Markdown keeps out of the tree."""
        stash = self.md.htmlStash.rawHtmlBlocks
        block = stash[index] if index < len(stash) else None
        if not isinstance(block, str):
            return
        if index in self.extension.fenced:
            start = block.index(">", block.index("<code")) + 1
            end = block.rindex("</code>")
            code = self._scan(block[start:end], _escape_fenced)
            stash[index] = block[:start] + code + block[end:]
        else:
            stash[index] = self._scan(block, None)

    def _scan(self, text: str, escape: Callable[[str], str] | None) -> str:
        """``text`` with its KB links noted and resolved; code comes HTML-escaped."""
        plain = _unescape(text) if escape else text
        edits = []
        for target, start, end in _link_targets(plain, self.syntax):
            if is_kb_target(target):
                new = self._found(target, in_code=escape is not None)
                if new is not None:
                    edits.append((start, end, new))
        if not edits:
            return text  # untouched, byte for byte
        for start, end, new in reversed(edits):
            plain = plain[:start] + new + plain[end:]
        return escape(plain) if escape else plain

    def _found(self, target: str, in_code: bool) -> str | None:
        if self.locator is None:
            self.locator = _Locator(self.extension.source, self.syntax)
        offset = self.locator.place(target)
        link = KbLink(target, self.locator.line(offset), offset, in_code)
        self.extension.found.append(link)
        return self.extension.resolve(link) if self.extension.resolve else None


def _link_targets(text: str, syntax: LinkInlineProcessor) -> Iterator[tuple[str, int, int]]:
    """(target, start, end) of every ``[…](…)`` in ``text``, read by Markdown's own link
    syntax; used where Markdown itself reads no links (code) and to find source lines."""
    last = text.rfind("](")  # no "[" after it can start a link: a cheap stop
    bracket = text.find("[")
    while bracket != -1 and bracket < last:
        _, index, closed = syntax.getText(text, bracket + 1)
        if closed:
            target, _, end, handled = syntax.getLink(text, index)
            if handled:
                start = text.find(target, index, end) if target else -1
                start = start if start != -1 else index + 1
                yield target, start, start + len(target)
        bracket = text.find("[", bracket + 1)


def _unescape(code: str) -> str:
    # Exact inverse of Markdown's code escaping: every "&" in it starts one of these.
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&amp;", "&")):
        code = code.replace(entity, char)
    return code


def _escape_fenced(code: str) -> str:
    # fenced_code's own escaping (it also escapes quotes, util.code_escape does not).
    return util.code_escape(code).replace('"', "&quot;")


class _Locator:
    """Source lines for links found in the tree, which keeps no positions: each link takes,
    in document order, the next unused place where the source writes its target as link
    syntax; a reference-style link takes the line of its ``[name]: target`` definition."""

    def __init__(self, source: str, syntax: LinkInlineProcessor) -> None:
        self.source = source
        self.line_starts = [0]
        for line in source.splitlines(keepends=True):
            self.line_starts.append(self.line_starts[-1] + len(line))
        self.places = [(target, start) for target, start, _ in _link_targets(source, syntax)]
        self.used = [False] * len(self.places)
        self.next = 0
        self.last = 0

    def place(self, target: str) -> int:
        """The offset of ``target`` where the source writes it for this link."""
        order = [*range(self.next, len(self.places)), *range(self.next)]
        index = next((i for i in order if not self.used[i] and self.places[i][0] == target), None)
        if index is not None:
            self.used[index] = True
            self.next = index + 1
            self.last = self.places[index][1]
        else:
            self.last = self._definition(target)
        return self.last

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self.line_starts, offset)

    def _definition(self, target: str) -> int:
        first = position = self.source.find(target)
        while position != -1:
            if self.source[:position].rstrip(" \t<").endswith("]:"):
                return position
            position = self.source.find(target, position + 1)
        return first if first != -1 else self.last
