"""One module per revision, numbered; read by Alembic (core.migrations), never imported."""
