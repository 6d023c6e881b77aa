from tests.db_fixtures import demo, session, sessions  # noqa: F401
