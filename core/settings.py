"""All settings in one place: environment variables with the ``HELPDESK_`` prefix.

Every module reads configuration through :func:`load_settings`; tests build their own
``Settings`` with :func:`dataclasses.replace` instead of touching the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    return os.environ.get(f"HELPDESK_{name}", default)


@dataclass(frozen=True)
class Settings:
    repo_root: Path
    kb_dir: Path
    data_dir: Path
    embedding_model: str
    ann_threshold: int
    torch_threads: int
    # Matrix products of query encoding: "auto" (bfloat16 where the CPU computes it natively),
    # "float32" or "bfloat16" (retrieval/lean_encoder.py).
    query_precision: str
    max_query_chars: int
    # An optional stronger sentence-transformers model (local folder or a name in the local
    # Hugging Face cache) that re-scores the top candidate guides; empty: off (retrieval/judge.py).
    judge_model: str
    # How many of the best-ranked guides the judge re-scores.
    judge_top: int
    # Customers, invoices, handoffs, feedback, verification attempts (SQLAlchemy URL).
    database_url: str
    # Key of the HMAC that support and VIP codes are stored under; empty: var/secret_key.
    secret_key: str
    # Rasa's own conversation memory: SQL tracker store, lock store (in memory or Redis).
    tracker_store_url: str
    lock_store_url: str
    rasa_port: int
    action_port: int
    # Rasa server processes. More than one share conversations through a lock store: Redis
    # when lock_store_url names one, else file locks on this machine (bot/lock_store.py).
    rasa_workers: int
    # Where customers open a guide: the web app's address and the path of an article.
    public_url: str
    article_path: str
    # The web app (widget, console, editor) listens here, on loopback.
    web_port: int
    # Demo mode (`make run`): demo accounts with printed passwords. Off: no default accounts.
    demo: bool
    # Session cookies only over HTTPS; on by default when the public URL is https.
    secure_cookies: bool
    # Per client address and per conversation (Flask-Limiter notation).
    chat_rate_limit: str
    verify_rate_limit: str
    # The provider's name in the widget and the demo pages.
    brand: str
    # Seconds the web app waits for Rasa before it answers from the KB itself.
    rasa_timeout: float

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    def article_url(self, article_id: int) -> str:
        return self.public_url + self.article_path.format(id=article_id)

    @property
    def kb_service_url(self) -> str:
        """The action server owns the model and index; everyone else searches through it."""
        return f"http://127.0.0.1:{self.action_port}"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def default_model_dir(self) -> Path:
        return self.models_dir / "multilingual-e5-small"


_ENV_NAMES = {
    "kb_dir": "KB_DIR",
    "data_dir": "DATA_DIR",
    "embedding_model": "EMBEDDING_MODEL",
    "ann_threshold": "ANN_THRESHOLD",
    "torch_threads": "TORCH_THREADS",
    "query_precision": "QUERY_PRECISION",
    "max_query_chars": "MAX_QUERY_CHARS",
    "judge_model": "JUDGE_MODEL",
    "judge_top": "JUDGE_TOP",
    "database_url": "DATABASE_URL",
    "secret_key": "SECRET_KEY",
    "tracker_store_url": "TRACKER_STORE_URL",
    "lock_store_url": "LOCK_STORE_URL",
    "rasa_port": "RASA_PORT",
    "action_port": "ACTION_PORT",
    "rasa_workers": "RASA_WORKERS",
    "public_url": "PUBLIC_URL",
    "article_path": "ARTICLE_PATH",
    "web_port": "WEB_PORT",
    "demo": "DEMO",
    "secure_cookies": "SECURE_COOKIES",
    "chat_rate_limit": "CHAT_RATE_LIMIT",
    "verify_rate_limit": "VERIFY_RATE_LIMIT",
    "rasa_timeout": "RASA_TIMEOUT",
    "brand": "BRAND",
}


def _env_value(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a child process exactly these settings."""
    return {
        f"HELPDESK_{env}": _env_value(getattr(settings, field)) for field, env in _ENV_NAMES.items()
    }


def load_settings() -> Settings:
    data_dir = Path(_env("DATA_DIR", str(REPO_ROOT / "var")))
    public_url = _env("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
    https = public_url.startswith("https")
    return Settings(
        repo_root=REPO_ROOT,
        kb_dir=Path(_env("KB_DIR", str(REPO_ROOT / "kb"))),
        data_dir=data_dir,
        # Empty means: the multilingual-e5-small folder built at install time.
        embedding_model=_env("EMBEDDING_MODEL", ""),
        # Above this many chunks the vector index switches from exact to HNSW search.
        ann_threshold=int(_env("ANN_THRESHOLD", "20000")),
        torch_threads=int(_env("TORCH_THREADS", "1")),
        query_precision=_env("QUERY_PRECISION", "auto").strip().lower(),
        max_query_chars=int(_env("MAX_QUERY_CHARS", "2000")),
        # Empty means: no judge; the search ranks and decides without it.
        judge_model=_env("JUDGE_MODEL", "").strip(),
        judge_top=int(_env("JUDGE_TOP", "3")),
        database_url=_env("DATABASE_URL", f"sqlite:///{data_dir / 'helpdesk.db'}"),
        secret_key=_env("SECRET_KEY", ""),
        tracker_store_url=_env("TRACKER_STORE_URL", f"sqlite:///{data_dir / 'rasa-tracker.db'}"),
        lock_store_url=_env("LOCK_STORE_URL", ""),
        rasa_port=int(_env("RASA_PORT", "5005")),
        action_port=int(_env("ACTION_PORT", "5055")),
        rasa_workers=int(_env("RASA_WORKERS", "1")),
        public_url=public_url,
        article_path=_env("ARTICLE_PATH", "/hilfe/{id}"),
        web_port=int(_env("WEB_PORT", "8000")),
        demo=_flag(_env("DEMO", "0")),
        secure_cookies=_flag(_env("SECURE_COOKIES", "1" if https else "0")),
        chat_rate_limit=_env("CHAT_RATE_LIMIT", "30/minute"),
        verify_rate_limit=_env("VERIFY_RATE_LIMIT", "10/minute"),
        rasa_timeout=float(_env("RASA_TIMEOUT", "10")),
        brand=_env("BRAND", "Beispiel Hosting"),
    )
