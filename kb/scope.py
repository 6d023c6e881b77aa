"""Changing ``kb/out_of_scope.yml`` (topics this KB deliberately does not answer) with the
same history as articles: every change is a revision with author and time, the change is
shown as a diff before it is made, and a change based on an older version than the newest
is refused (:class:`~kb.revisions.Conflict` rules, :func:`~kb.revisions.diff` rendering).

The file stays the source of truth. A file changed outside the editor (git pull, hand edit)
is recorded as an ``imported`` revision before anything builds on it. A topic is added by
appending one list item to the text, so the file's comments and layout stay as they were.
Callers hold :func:`kb.revisions.kb_lock` from the first read to the commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.kb_records import MAX_TOPIC_CHARS, ScopeRevision
from core.users import User
from kb.revisions import DiffLine, EditorError, Invalid, diff

FILE_NAME = "out_of_scope.yml"
KIND_LABELS = {
    "imported": "Aus der Datei übernommen",
    "added": "Thema hinzugefügt",
    "removed": "Thema entfernt",
}
NEW_FILE_HEADER = (
    "# Topics customers of this KB ask about that no article answers (yet). When an article\n"
    "# on one of these topics is published, remove the topic here.\n"
)


class ScopeConflict(EditorError):
    def __init__(self, newer: ScopeRevision, author: str) -> None:
        super().__init__(
            f"Die Liste wurde inzwischen von {author} geändert (Version {newer.number}). "
            "Es wurde nichts gespeichert; bitte prüfen Sie die Änderung erneut."
        )
        self.newer = newer


@dataclass
class Proposal:
    topic: str
    base: int  # the newest revision's number, to be named when confirming
    old_text: str
    new_text: str
    lines: list[DiffLine]


def path_of(kb_dir: Path) -> Path:
    return kb_dir / FILE_NAME


def read_text(kb_dir: Path) -> str:
    path = path_of(kb_dir)
    return path.read_text(encoding="utf-8") if path.exists() else ""


def topics_of(text: str) -> list[str]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise EditorError(f"{FILE_NAME} ist kein gültiges YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise EditorError(f"{FILE_NAME} muss eine Liste „topics:“ enthalten.")
    return [" ".join(str(t).split()) for t in data.get("topics") or [] if str(t).strip()]


def clean_topic(topic: str) -> str:
    return " ".join(str(topic).split())


# -- history -------------------------------------------------------------------------------


def history(session: Session) -> list[ScopeRevision]:
    return list(session.scalars(select(ScopeRevision).order_by(ScopeRevision.number)))


def _add(
    session: Session,
    kind: str,
    text: str,
    author_id: int | None,
    newest: ScopeRevision | None,
    topic: str | None = None,
) -> ScopeRevision:
    revision = ScopeRevision(
        number=(newest.number if newest else 0) + 1,
        kind=kind,
        topic=topic,
        text=text,
        author_id=author_id,
    )
    session.add(revision)
    session.flush()
    return revision


def sync(session: Session, kb_dir: Path) -> ScopeRevision:
    """The newest revision, after recording the file as ``imported`` when it differs (also
    the first revision of a list never changed here)."""
    revisions = history(session)
    newest = revisions[-1] if revisions else None
    text = read_text(kb_dir)
    if newest is None or newest.text != text:
        newest = _add(session, "imported", text, None, newest)
    return newest


def author_name(session: Session, revision: ScopeRevision) -> str:
    if revision.author_id is None:
        return "jemand außerhalb des Editors" if revision.kind == "imported" else "unbekannt"
    user = session.get(User, revision.author_id)
    return user.username if user is not None else "ein gelöschtes Konto"


# -- adding a topic ------------------------------------------------------------------------


def with_topic(text: str, topic: str) -> str:
    """``text`` with ``topic`` appended to its list, comments and layout kept."""
    item = yaml.safe_dump([topic], allow_unicode=True, width=10_000).strip()  # "- …"
    existing = topics_of(text)
    if not text.strip() or "topics" not in (yaml.safe_load(text) or {}):
        head = text.rstrip("\n") + "\n" if text.strip() else NEW_FILE_HEADER
        candidate = f"{head}topics:\n  {item}\n"
    else:
        indent = "  "
        for line in text.splitlines():
            stripped = line.lstrip(" ")
            if stripped.startswith("- "):
                indent = line[: len(line) - len(stripped)]
        candidate = f"{text.rstrip()}\n{indent}{item}\n"
    if topics_of(candidate) == [*existing, topic]:
        return candidate
    # A layout the append does not fit (a flow list, topics not last): write it anew.
    comments = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    data = yaml.safe_load(text) or {}
    data["topics"] = [*(data.get("topics") or []), topic]
    return comments + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10_000)


def check_topic(topic: str, existing: list[str]) -> str:
    """The topic as it will be written; :class:`Invalid` with a German message if not."""
    topic = clean_topic(topic)
    if not topic:
        raise Invalid({"topic": ["Bitte geben Sie ein Thema ein."]})
    if len(topic) > MAX_TOPIC_CHARS:
        raise Invalid({"topic": [f"Das Thema ist zu lang (höchstens {MAX_TOPIC_CHARS} Zeichen)."]})
    if topic.casefold() in {t.casefold() for t in existing}:
        raise Invalid({"topic": [f"„{topic}“ steht bereits auf der Liste."]})
    return topic


# -- removing a topic ----------------------------------------------------------------------


def without_topic(text: str, topic: str) -> str:
    """``text`` without ``topic``'s list item, comments and layout kept."""
    wanted = [t for t in topics_of(text) if t != topic]
    kept = []
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("- "):
            try:
                item = yaml.safe_load(stripped)
            except yaml.YAMLError:
                item = None
            if isinstance(item, list) and len(item) == 1 and clean_topic(item[0]) == topic:
                continue
        kept.append(line)
    candidate = "".join(kept)
    if topics_of(candidate) == wanted:
        return candidate
    comments = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    data = yaml.safe_load(text) or {}
    data["topics"] = wanted
    return comments + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10_000)


def listed_topic(topic: str, existing: list[str]) -> str:
    """The listed spelling of ``topic``; :class:`Invalid` with a German message if absent."""
    wanted = clean_topic(topic).casefold()
    for listed_one in existing:
        if listed_one.casefold() == wanted:
            return listed_one
    raise Invalid({"topic": [f"„{clean_topic(topic)}“ steht nicht auf der Liste."]})


# -- proposing and writing a change --------------------------------------------------------


def _changed(text: str, topic: str, *, remove: bool) -> tuple[str, str]:
    """(the topic as written or listed, the list's new text)."""
    existing = topics_of(text)
    if remove:
        topic = listed_topic(topic, existing)
        return topic, without_topic(text, topic)
    topic = check_topic(topic, existing)
    return topic, with_topic(text, topic)


def propose(session: Session, kb_dir: Path, topic: str, *, remove: bool = False) -> Proposal:
    """What adding (or removing) ``topic`` would change, as a diff; nothing is written."""
    newest = sync(session, kb_dir)
    topic, new_text = _changed(newest.text, topic, remove=remove)
    label = "ohne das Thema" if remove else "mit Ihrem Thema"
    lines = diff(newest.text, new_text, f"{FILE_NAME} (Version {newest.number})", label)
    return Proposal(topic, newest.number, newest.text, new_text, lines)


def add_topic(
    session: Session, kb_dir: Path, topic: str, *, base: int, author_id: int | None
) -> ScopeRevision:
    """Write the list with ``topic`` added and record the revision.

    Refused with :class:`ScopeConflict` when the list changed since the diff the editor saw
    (``base``), with :class:`~kb.revisions.Invalid` for an empty, long or listed topic.
    """
    return _write(session, kb_dir, topic, base=base, author_id=author_id, remove=False)


def remove_topic(
    session: Session, kb_dir: Path, topic: str, *, base: int, author_id: int | None
) -> ScopeRevision:
    """Write the list without ``topic`` (an article now answers it) and record the revision;
    refused like :func:`add_topic`, and with :class:`~kb.revisions.Invalid` if not listed."""
    return _write(session, kb_dir, topic, base=base, author_id=author_id, remove=True)


def _write(
    session: Session,
    kb_dir: Path,
    topic: str,
    *,
    base: int,
    author_id: int | None,
    remove: bool,
) -> ScopeRevision:
    newest = sync(session, kb_dir)
    if newest.number != base:
        raise ScopeConflict(newest, author_name(session, newest))
    topic, text = _changed(newest.text, topic, remove=remove)
    kind = "removed" if remove else "added"
    revision = _add(session, kind, text, author_id, newest, topic)
    path = path_of(kb_dir)
    temporary = path.with_suffix(".yml.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)  # readers see the old or the new list, never half of one
    return revision


def listed(kb_dir: Path) -> set[str]:
    """The listed topics, case-folded, for "already on the list" marks; empty if unreadable."""
    try:
        return {t.casefold() for t in topics_of(read_text(kb_dir))}
    except EditorError:
        return set()
