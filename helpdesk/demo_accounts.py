"""Staff accounts for demo mode (`make run`): one per role, passwords generated once and
kept in ``var/demo_accounts.json`` (mode 0600) so they survive restarts. Outside demo mode
nothing here runs and there are no default passwords."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.settings import Settings
from core.users import User, add_user, set_password

DEMO_USERS = {"agent": "agent", "editor": "editor", "admin": "admin"}  # username: role


def _credentials_file(settings: Settings) -> Path:
    return settings.data_dir / "demo_accounts.json"


def _load_or_create_passwords(settings: Settings) -> dict[str, str]:
    path = _credentials_file(settings)
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
        if set(stored) == set(DEMO_USERS):
            return stored
    passwords = {name: secrets.token_urlsafe(12) for name in DEMO_USERS}
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(passwords, handle)
    return passwords


def ensure_demo_accounts(session: Session, settings: Settings) -> dict[str, str]:
    """Create (or reset) the demo accounts; returns username → password to print."""
    passwords = _load_or_create_passwords(settings)
    for username, role in DEMO_USERS.items():
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            add_user(session, username, passwords[username], role)
        else:
            user.role = role
            user.active = True
            set_password(user, passwords[username])
    return passwords
