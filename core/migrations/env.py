"""Alembic's environment, for Alembic's commands (``helpdesk db revision`` runs
``alembic.command.revision``); ``core.migrations.run`` does the same without reading this
file on every call.

The caller passes its connection (``config.attributes["connection"]``), already inside its
transaction, so nothing here opens or commits one.
"""

from __future__ import annotations

from alembic import context

from core.migrations import context_options

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through core.db.upgrade or `helpdesk db upgrade`")
context.configure(connection=connection, **context_options(connection))
with context.begin_transaction():
    context.run_migrations()
