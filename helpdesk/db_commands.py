"""`helpdesk db upgrade` and `helpdesk db revision`: the database's migrations (core.migrations)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.settings import load_settings
from helpdesk.exit_codes import EXIT_FAILED, EXIT_OK


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from alembic.util import CommandError
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from core.db import make_engine, upgrade

    settings = load_settings()
    where = make_url(settings.database_url).render_as_string(hide_password=True)
    engine = make_engine(settings.database_url)
    try:
        done = upgrade(engine)
    except (SQLAlchemyError, CommandError) as exc:
        # The first line says what is wrong: unreachable, no permission, locked, or a revision
        # this version does not know (the database was migrated by a newer one).
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"Fehler: Die Datenbank ({where}) wurde nicht migriert: {reason}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        engine.dispose()
    if done.created:
        print("Neue Datenbank angelegt.")
    elif done.adopted:
        print(
            "Bestehende Datenbank übernommen (angelegt vor den Migrationen), alle Daten erhalten."
        )
    elif done.before != done.after:
        print(f"Datenbank migriert von Revision {done.before} auf {done.after}.")
    print(f"Datenbank ist auf dem neuesten Stand (Revision {done.after}, {where}).")
    return EXIT_OK


def cmd_db_revision(args: argparse.Namespace) -> int:
    import tempfile

    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from core import migrations
    from core.db import make_engine, upgrade

    # Compared against a fresh database at the newest revision, not the local one: the new
    # migration holds exactly what the models changed since the last migration.
    with tempfile.TemporaryDirectory(prefix="helpdesk-revision-") as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'schema.db'}")
        try:
            upgrade(engine)
            with engine.begin() as connection:
                options = migrations.context_options(connection)
                context = MigrationContext.configure(connection, opts=options)
                changes = compare_metadata(context, options["target_metadata"])
                if not changes and not args.empty:
                    print(
                        "Die Modelle entsprechen den Migrationen: keine neue Revision "
                        "(--empty legt eine leere an, z. B. für eine Datenmigration)."
                    )
                    return EXIT_OK
                script = command.revision(
                    migrations.config(connection),
                    message=args.message,
                    autogenerate=True,
                    rev_id=migrations.next_revision_id(),
                )
        finally:
            engine.dispose()
    assert script is not None and not isinstance(script, list)
    print(f"Neue Migration {script.revision}: {script.path}")
    print(
        "Bitte von Hand prüfen: Umbenennungen erscheinen als Löschen und Neuanlegen, "
        "geänderte Check-Constraints fehlen."
    )
    return EXIT_OK
