"""Staff accounts (agents, editors, admins): hashed passwords and roles.

Customers have no accounts; they prove who they are with a support or VIP code.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime

from sqlalchemy import CheckConstraint, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from core.models import Base, utc_now

ROLES = ("agent", "editor", "admin")
MIN_PASSWORD_LENGTH = 10
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
# werkzeug's default (generate_password_hash's `method`), named so that the tests can swap in
# a cheap one: scrypt costs a tenth of a second or more per hash, and most tests create
# accounts. Read at every call, never bound at import.
PASSWORD_HASH_METHOD = "scrypt"


@functools.cache
def _dummy_hash(method: str) -> str:
    """Compared against when the user does not exist, so that both cases take the same time;
    one per method, so that it costs what the accounts' own hashes cost."""
    return generate_password_hash("not-a-password", method=method)


# Computed at import, as before, so that the first failed login is not the slow one.
_dummy_hash(PASSWORD_HASH_METHOD)


class UserError(ValueError):
    """The account cannot be created or changed; the message is meant for the operator."""


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN {ROLES!r}", name="role_allowed"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    # Flask-Login's user protocol.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    def can(self, *roles: str) -> bool:
        """Admins may do everything; everyone else what their role names."""
        return self.role == "admin" or self.role in roles


def add_user(session: Session, username: str, password: str, role: str) -> User:
    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise UserError("Benutzername: 2–63 Zeichen, Kleinbuchstaben, Ziffern, . _ -")
    if role not in ROLES:
        raise UserError(f"Unbekannte Rolle {role!r}; erlaubt: {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"Das Passwort muss mindestens {MIN_PASSWORD_LENGTH} Zeichen haben.")
    if session.scalar(select(User).where(User.username == username)):
        raise UserError(f"Den Benutzer {username!r} gibt es schon.")
    user = User(username=username, password_hash=_hash(password), role=role)
    session.add(user)
    session.flush()
    return user


def set_password(user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"Das Passwort muss mindestens {MIN_PASSWORD_LENGTH} Zeichen haben.")
    user.password_hash = _hash(password)


def _hash(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_HASH_METHOD)


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        check_password_hash(_dummy_hash(PASSWORD_HASH_METHOD), password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user
