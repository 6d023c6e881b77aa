"""Initial schema: every table as ``create_all`` made it before migrations existed.

Revision ID: 0001
Revises: -
Create Date: 2026-12-04

Generated with autogenerate against an empty database and reviewed by hand, then written as
a frozen copy of the schema (``schema()``) instead of ``op.create_table`` calls: a database
that predates migrations is brought to exactly this schema before it is stamped with this
revision (``core.db``), and that has to stay this revision's schema, not the models' of the
day, or the next migration that adds a table or column would find it already there.

The names are the ones the models' naming convention gives (``ck_<table>_<name>``,
``ix_<table>_<column>``); UTCDateTime is stored as ``DateTime(timezone=True)``.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), nullable=False)


def _conversation_id() -> sa.Column:
    return sa.Column("conversation_id", sa.String(length=128), nullable=False)


def _created_at() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def _money(name: str) -> sa.Column:
    return sa.Column(name, sa.Numeric(precision=10, scale=2), nullable=False)


def _check(table: str, name: str, sql: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(sql, name=f"ck_{table}_{name}")


def _index(table: str, column: str, *, unique: bool = False) -> sa.Index:
    return sa.Index(f"ix_{table}_{column}", column, unique=unique)


def _fk(column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [target], ondelete=ondelete)


@functools.cache
def schema() -> sa.MetaData:
    """The tables of this revision, on a metadata of their own (never the live models).

    Built once per process and shared: it is only read (the tests migrate hundreds of new
    databases, and building it costs as much as creating the tables).
    """
    metadata = sa.MetaData()
    currency = "currency IN ('CHF', 'EUR')"
    kinds = "kind IN ('support', 'vip')"

    sa.Table(
        "clarify_choices",
        metadata,
        _id(),
        _conversation_id(),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("offered", sa.JSON(), nullable=False),
        sa.Column("chosen_article_id", sa.Integer(), nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint("id"),
        _index("clarify_choices", "conversation_id"),
        _index("clarify_choices", "created_at"),
    )
    sa.Table(
        "customers",
        metadata,
        _id(),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    sa.Table(
        "feedback",
        metadata,
        _id(),
        _conversation_id(),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id"),
        _index("feedback", "conversation_id"),
    )
    sa.Table(
        "kb_questions",
        metadata,
        _id(),
        _conversation_id(),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("confidence", sa.Double(), nullable=False),
        _created_at(),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        _index("kb_questions", "article_id"),
        _index("kb_questions", "conversation_id"),
        _index("kb_questions", "created_at"),
        _index("kb_questions", "verdict"),
    )
    sa.Table(
        "users",
        metadata,
        _id(),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _created_at(),
        _check("users", "role_allowed", "role IN ('agent', 'editor', 'admin')"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    sa.Table(
        "access_codes",
        metadata,
        _id(),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        _check("access_codes", "kind_allowed", kinds),
        _fk("customer_id", "customers.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        _index("access_codes", "digest", unique=True),
    )
    sa.Table(
        "article_revisions",
        metadata,
        _id(),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("article_id", "number", name="one_number_per_article"),
        _check(
            "article_revisions",
            "kind_allowed",
            "kind IN ('draft', 'published', 'unpublished', 'imported')",
        ),
        _fk("author_id", "users.id", "SET NULL"),
        _index("article_revisions", "article_id"),
    )
    sa.Table(
        "conversations",
        metadata,
        sa.Column("id", sa.String(length=64), nullable=False),
        _created_at(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Boolean(), nullable=False),
        sa.Column("handed_off_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("handoffs", sa.Integer(), nullable=False),
        _check("conversations", "state_allowed", "state IN ('bot', 'waiting', 'agent')"),
        _fk("agent_id", "users.id", "SET NULL"),
        _fk("customer_id", "customers.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        _index("conversations", "created_at"),
        _index("conversations", "state"),
    )
    sa.Table(
        "handoffs",
        metadata,
        _id(),
        _conversation_id(),
        _created_at(),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.Boolean(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("transcript", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        _check("handoffs", "status_allowed", "status IN ('open', 'assigned', 'closed')"),
        _fk("customer_id", "customers.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        _index("handoffs", "conversation_id"),
        _index("handoffs", "customer_id"),
        _index("handoffs", "status"),
    )
    sa.Table(
        "invoices",
        metadata,
        _id(),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        _money("amount"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        _check("invoices", "currency_allowed", currency),
        sa.UniqueConstraint("number"),
        _fk("customer_id", "customers.id", "CASCADE"),
        sa.UniqueConstraint("reference"),
        _index("invoices", "customer_id"),
    )
    sa.Table(
        "premium_subscriptions",
        metadata,
        _id(),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("plan", sa.String(length=100), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        _fk("customer_id", "customers.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        _index("premium_subscriptions", "customer_id"),
    )
    sa.Table(
        "prepaid_accounts",
        metadata,
        _id(),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        _money("balance"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        _check("prepaid_accounts", "currency_allowed", currency),
        sa.UniqueConstraint("customer_id"),
        _fk("customer_id", "customers.id", "CASCADE"),
    )
    sa.Table(
        "scope_revisions",
        metadata,
        _id(),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("topic", sa.String(length=300), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint("id"),
        _check("scope_revisions", "kind_allowed", "kind IN ('imported', 'added', 'removed')"),
        sa.UniqueConstraint("number"),
        _fk("author_id", "users.id", "SET NULL"),
    )
    sa.Table(
        "uncovered_drafts",
        metadata,
        _id(),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        _created_at(),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered", sa.Integer(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("missed", sa.JSON(), nullable=True),
        _fk("created_by", "users.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        _index("uncovered_drafts", "article_id"),
    )
    sa.Table(
        "verification_attempts",
        metadata,
        _id(),
        _conversation_id(),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("client_key", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        _created_at(),
        _check("verification_attempts", "kind_allowed", kinds),
        _fk("customer_id", "customers.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        _index("verification_attempts", "client_key"),
        _index("verification_attempts", "conversation_id"),
        _index("verification_attempts", "created_at"),
        _index("verification_attempts", "customer_id"),
    )
    sa.Table(
        "chat_messages",
        metadata,
        _id(),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        _created_at(),
        sa.Column("sender", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        _check(
            "chat_messages", "sender_allowed", "sender IN ('customer', 'bot', 'agent', 'system')"
        ),
        _fk("conversation_id", "conversations.id", "CASCADE"),
        _fk("agent_id", "users.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        _index("chat_messages", "conversation_id"),
    )
    sa.Table(
        "payments",
        metadata,
        _id(),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        _money("amount"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reference", sa.String(length=140), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("credited_to", sa.String(length=16), nullable=False),
        _check("payments", "currency_allowed", currency),
        _check(
            "payments",
            "method_allowed",
            "method IN ('transfer', 'standing_order', 'card', 'prepaid')",
        ),
        _check("payments", "credited_to_allowed", "credited_to IN ('invoice', 'prepaid')"),
        _fk("customer_id", "customers.id", "CASCADE"),
        _fk("invoice_id", "invoices.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        _index("payments", "customer_id"),
        _index("payments", "invoice_id"),
    )
    sa.Table(
        "reminders",
        metadata,
        _id(),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        _fk("invoice_id", "invoices.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        _index("reminders", "invoice_id"),
    )
    return metadata


def upgrade() -> None:
    # checkfirst=False: a table that is already there is an error here; a database that
    # predates migrations is adopted by core.db and never runs this.
    schema().create_all(op.get_bind(), checkfirst=False)


def downgrade() -> None:
    schema().drop_all(op.get_bind(), checkfirst=False)
