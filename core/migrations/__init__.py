"""The database's migrations (Alembic), shipped inside ``core``: ``versions/`` holds one module
per revision, ``core.db.upgrade`` runs them, ``helpdesk db revision`` writes a new one.

There is no ``alembic.ini``: the configuration is built here, and a connection is always
handed in (``env.py`` never opens one), so that the caller holds the lock and the transaction.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator

HERE = Path(__file__).parent
# The schema as it was when migrations were introduced; a database from before then is brought
# to it and stamped with it (core.db).
INITIAL = "0001"
_NUMBERED = re.compile(r"^\d{4}$")


def target_metadata() -> MetaData:
    """The models' schema: what the newest migration must produce."""
    # Tables defined outside core.models register on Base when imported.
    import core.conversations
    import core.kb_records
    import core.users  # noqa: F401
    from core.models import Base

    return Base.metadata


def config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    # Numbered files (0001_initial.py) read in order; "%" is escaped for ConfigParser.
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    # A new revision comes out lint-clean (`make lint` checks the whole tree).
    hooks = "post_write_hooks"
    cfg.set_section_option(hooks, "hooks", "ruff_fix, ruff_format")
    for name, options in (("ruff_fix", "check --fix --quiet"), ("ruff_format", "format --quiet")):
        cfg.set_section_option(hooks, f"{name}.type", "module")
        cfg.set_section_option(hooks, f"{name}.module", "ruff")
        cfg.set_section_option(hooks, f"{name}.options", f"{options} REVISION_SCRIPT_FILENAME")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


_scripts: ScriptDirectory | None = None


def scripts() -> ScriptDirectory:
    """The revisions, read once per process (they do not change while it runs)."""
    global _scripts
    if _scripts is None:
        _scripts = ScriptDirectory.from_config(config())
    return _scripts


def head() -> str:
    revision = scripts().get_current_head()
    assert revision is not None, "core/migrations/versions has no revision"
    return revision


def initial_schema() -> MetaData:
    """The schema of the initial revision, frozen in its module (built once per process)."""
    revision = scripts().get_revision(INITIAL)
    assert revision is not None
    return revision.module.schema()


def next_revision_id() -> str:
    """0002, 0003, …: ids that sort like the files and say which came first."""
    numbers = [int(s.revision) for s in scripts().walk_revisions() if _NUMBERED.match(s.revision)]
    return f"{max(numbers, default=0) + 1:04d}"


def run(connection: Connection, destination: str, *, stamp: bool = False) -> None:
    """Upgrade the database on ``connection`` to ``destination`` (with ``stamp``: only record
    it as there), inside the caller's transaction.

    What ``alembic.command.upgrade`` and ``stamp`` do, but with the revisions read once per
    process: the commands read every revision file and env.py again on each call, which
    doubled what a new database costs, and the tests make hundreds of them.
    """
    script = scripts()

    def steps(revision: Any, context: Any) -> Any:
        if stamp:
            return script._stamp_revs(destination, revision)
        return script._upgrade_revs(destination, revision)

    cfg = config(connection)
    with EnvironmentContext(cfg, script, fn=steps, destination_rev=destination) as environment:
        # As env.py does.
        environment.configure(connection=connection, **context_options(connection))
        with environment.begin_transaction():
            environment.run_migrations()


def context_options(connection: Connection) -> dict[str, Any]:
    """How Alembic runs and compares, for env.py and for the tests' schema comparison."""
    metadata = target_metadata()

    def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
        # Only our tables: Rasa's tracker store may share the database (tests/e2e/test_stores).
        return type_ != "table" or name in metadata.tables

    return {
        "target_metadata": metadata,
        "include_name": include_name,
        "render_item": _render_item,
        "compare_type": True,
        # SQLite alters a table by copying it: later migrations get that from op.batch_alter_table.
        "render_as_batch": connection.dialect.name == "sqlite",
    }


def _render_item(type_: str, obj: Any, context: AutogenContext) -> str | bool:
    # A migration stays what it was when written: a type decorator of ours (UTCDateTime) is
    # written as the column type it stores, not as an import of the model code.
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False
