"""Extractive answers: the best article's most relevant sections, as written. Nothing invented."""

from __future__ import annotations

from dataclasses import dataclass, field

from retrieval.index_store import SearchIndex
from retrieval.ranking import ArticleHit

# A second section joins the answer when it scores almost as well as the best one.
SECOND_SECTION_GAP = 0.015
MAX_SECTIONS = 2
NOT_FOUND = (
    "Dazu habe ich in unseren Anleitungen leider nichts gefunden. Sie können die Frage "
    "anders formulieren oder mit einem Mitarbeiter des Supports sprechen."
)


CLARIFY_QUESTION = "Meinen Sie eine dieser Anleitungen?"


@dataclass(frozen=True)
class Choice:
    article_id: int
    title: str


@dataclass(frozen=True)
class Section:
    heading: str
    markdown: str


@dataclass
class Answer:
    query: str
    answerable: bool
    confidence: float
    article_id: int | None = None
    title: str = ""
    path: str = ""
    sections: list[Section] = field(default_factory=list)
    verdict: str = "answer"  # retrieval.verdict: "answer", "clarify" or "not_covered"
    choices: list[Choice] = field(default_factory=list)  # for "clarify"

    @property
    def markdown(self) -> str:
        """The answer as the customer reads it, with the guide it comes from."""
        return self.render()

    def render(self, link: str | None = None) -> str:
        """The answer as Markdown; with ``link``, the guide's title links to the guide."""
        if self.verdict == "clarify":
            return CLARIFY_QUESTION
        if not self.answerable:
            return NOT_FOUND
        parts = [f"**{self.title}**"]
        for section in self.sections:
            heading = section.heading.split(" › ")[-1]
            parts.append(f"### {heading}\n\n{section.markdown}" if heading else section.markdown)
        source = f"[{self.title}]({link})" if link else f"„{self.title}“"
        parts.append(f"Quelle: Anleitung {source}")
        return "\n\n".join(parts)

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "answerable": self.answerable,
            "confidence": self.confidence,
            "article_id": self.article_id,
            "title": self.title,
            "path": self.path,
            "sections": [{"heading": s.heading, "markdown": s.markdown} for s in self.sections],
            "markdown": self.markdown,
            "verdict": self.verdict,
            "choices": [{"article_id": c.article_id, "title": c.title} for c in self.choices],
        }


def compose(query: str, index: SearchIndex, hit: ArticleHit, confidence: float) -> Answer:
    best = hit.row_scores[0]
    chosen = [
        row
        for row, score in zip(hit.rows, hit.row_scores, strict=True)
        if score >= best - SECOND_SECTION_GAP
    ]
    chosen = sorted(chosen[:MAX_SECTIONS], key=lambda r: index.chunks[r].position)
    info = index.articles[hit.article_id]
    return Answer(
        query=query,
        answerable=True,
        confidence=confidence,
        article_id=hit.article_id,
        title=info.title,
        path=info.path,
        sections=[Section(index.chunks[r].section, index.chunks[r].markdown) for r in chosen],
    )
