"""Changes to kb/out_of_scope.yml as revisions: imported first, diff before, conflicts."""

from __future__ import annotations

import pytest
import yaml

from core.users import add_user
from kb import scope
from kb.revisions import Invalid


def test_adding_a_topic_keeps_the_file_and_records_who(db, settings):
    path = settings.kb_dir / "out_of_scope.yml"
    before = path.read_text(encoding="utf-8")
    anna = add_user(db, "anna", "richtig-langes-passwort", "editor")
    db.commit()

    proposal = scope.propose(db, settings.kb_dir, "  Wie löse ich einen Gutschein ein? ")
    assert path.read_text(encoding="utf-8") == before  # nothing written yet
    assert proposal.topic == "Wie löse ich einen Gutschein ein?"
    added = [line.text for line in proposal.lines if line.kind == "add"]
    assert added == ["+  - Wie löse ich einen Gutschein ein?"]
    assert not [line for line in proposal.lines if line.kind == "del"]

    revision = scope.add_topic(
        db, settings.kb_dir, proposal.topic, base=proposal.base, author_id=anna.id
    )
    db.commit()
    after = path.read_text(encoding="utf-8")
    assert after.startswith(before.rstrip("\n"))  # comments and order untouched
    topics = yaml.safe_load(after)["topics"]
    assert topics[-1] == "Wie löse ich einen Gutschein ein?"
    assert [r.kind for r in scope.history(db)] == ["imported", "added"]
    assert revision.number == 2 and revision.author_id == anna.id
    assert revision.text == after
    assert scope.author_name(db, revision) == "anna"


def test_a_topic_that_needs_quotes_stays_valid_yaml(db, settings):
    proposal = scope.propose(db, settings.kb_dir, "Preise: was kostet # mehr?")
    scope.add_topic(db, settings.kb_dir, proposal.topic, base=proposal.base, author_id=None)
    text = (settings.kb_dir / "out_of_scope.yml").read_text(encoding="utf-8")
    assert scope.topics_of(text)[-1] == "Preise: was kostet # mehr?"


def test_a_change_made_meanwhile_is_not_overwritten(db, settings):
    path = settings.kb_dir / "out_of_scope.yml"
    proposal = scope.propose(db, settings.kb_dir, "Gutscheine")
    db.commit()
    path.write_text(path.read_text(encoding="utf-8") + "  - Von Hand ergänzt\n", "utf-8")
    with pytest.raises(scope.ScopeConflict):
        scope.add_topic(db, settings.kb_dir, "Gutscheine", base=proposal.base, author_id=None)
    db.commit()
    assert "Gutscheine" not in path.read_text(encoding="utf-8")
    kinds = [r.kind for r in scope.history(db)]
    assert kinds == ["imported", "imported"]  # the hand edit is now a version of its own


@pytest.mark.parametrize(
    "topic",
    [
        "",
        "   ",
        "x" * 301,
        "Wie richte ich einen Cronjob ein?",
        "wie richte ich einen cronjob ein?",
    ],
)
def test_empty_long_or_listed_topics_are_refused(db, settings, topic):
    with pytest.raises(Invalid) as refused:
        scope.propose(db, settings.kb_dir, topic)
    assert refused.value.errors["topic"]


def test_a_missing_file_is_created(db, settings):
    (settings.kb_dir / "out_of_scope.yml").unlink()
    proposal = scope.propose(db, settings.kb_dir, "Gutscheine")
    scope.add_topic(db, settings.kb_dir, "Gutscheine", base=proposal.base, author_id=None)
    text = (settings.kb_dir / "out_of_scope.yml").read_text(encoding="utf-8")
    assert text.startswith("#") and scope.topics_of(text) == ["Gutscheine"]


def test_a_flow_list_is_written_anew(tmp_path):
    text = "# Kopf\ntopics: [a, b]\nother: 1\n"
    changed = scope.with_topic(text, "c")
    assert changed.startswith("# Kopf\n")
    assert yaml.safe_load(changed) == {"topics": ["a", "b", "c"], "other": 1}


def test_removing_a_topic_keeps_comments_and_records_the_revision(db, settings):
    path = settings.kb_dir / "out_of_scope.yml"
    before = path.read_text(encoding="utf-8")
    topic = "Wie richte ich einen Cronjob ein?"
    proposal = scope.propose(db, settings.kb_dir, topic.upper(), remove=True)
    assert proposal.topic == topic  # the listed spelling
    assert [line.text for line in proposal.lines if line.kind == "del"] == [f"-  - {topic}"]
    assert not [line for line in proposal.lines if line.kind == "add"]
    assert path.read_text(encoding="utf-8") == before

    revision = scope.remove_topic(db, settings.kb_dir, topic, base=proposal.base, author_id=None)
    db.commit()
    after = path.read_text(encoding="utf-8")
    assert after == before.replace(f"  - {topic}\n", "")  # one line gone, nothing else
    assert topic not in yaml.safe_load(after)["topics"]
    assert (revision.kind, revision.topic) == ("removed", topic)
    assert scope.KIND_LABELS[revision.kind] == "Thema entfernt"


def test_removing_a_topic_that_is_not_listed_is_refused(db, settings):
    with pytest.raises(Invalid) as refused:
        scope.propose(db, settings.kb_dir, "Gibt es nicht", remove=True)
    assert "steht nicht auf der Liste" in refused.value.errors["topic"][0]
    newest = scope.sync(db, settings.kb_dir)
    with pytest.raises(scope.ScopeConflict):
        scope.remove_topic(
            db,
            settings.kb_dir,
            "Wie richte ich einen Cronjob ein?",
            base=newest.number - 1,
            author_id=None,
        )
