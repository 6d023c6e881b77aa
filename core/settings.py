"""All settings in one place: environment variables with the ``HELPDESK_`` prefix.

Every module reads configuration through :func:`load_settings`; tests build their own
``Settings`` with :func:`dataclasses.replace` instead of touching the environment.

Each setting is declared once, as a field of :class:`Settings` made by :func:`setting`: the
annotation gives its type (and so its parser), the call its default, and the field name its
environment variable (``HELPDESK_`` + the name in upper case). :func:`load_settings` and
:func:`settings_env` are generated from these declarations.
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent

_ENV_PREFIX = "HELPDESK_"

# The metadata key under which a field carries its declaration.
_SPEC = "helpdesk_setting"

_NO_DEFAULT: Any = object()


@dataclass(frozen=True)
class _Spec:
    # A fixed value, or `derive`: a function of the settings loaded before this one.
    default: Any
    derive: Callable[[Any], Any] | None
    # Applied to the value from the environment and to the default alike, as the normal form.
    clean: Callable[[Any], Any] | None


def setting(
    default: Any = _NO_DEFAULT,
    *,
    derive: Callable[[Any], Any] | None = None,
    clean: Callable[[Any], Any] | None = None,
) -> Any:
    """Declare a setting: a dataclass field read from ``HELPDESK_<NAME>``.

    ``default`` is the value when the variable is unset; ``derive`` instead computes it from
    the settings declared above this one (attribute access, e.g. ``s.data_dir``). The field
    itself stays required, so ``Settings(...)`` and :func:`dataclasses.replace` need no
    environment. (It returns a :func:`dataclasses.field`, which ruff's RUF009 cannot see
    through on fields of a non-builtin type such as ``Path``; hence the ``noqa`` there.)
    """
    if (default is _NO_DEFAULT) == (derive is None):
        raise TypeError("a setting needs exactly one of default and derive")
    return field(metadata={_SPEC: _Spec(default, derive, clean)})


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _strip_slash(url: str) -> str:
    # Article links are built as public_url + article_path, which starts with a slash.
    return url.rstrip("/")


def _strip_lower(value: str) -> str:
    return value.strip().lower()


def _words(value: str) -> tuple[str, ...]:
    # A list in one variable: items separated by commas, white space or both.
    return tuple(word for word in re.split(r"[\s,]+", value) if word)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> str:
    """``scheme://host[:port]`` of an http(s) URL, spelt as browsers send it in ``Origin``
    (lower case, no default port): origins are compared as plain strings (engine.io)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # not a number, or out of range
        port = -1
    if scheme not in _DEFAULT_PORTS or not parts.hostname or port == -1 or "@" in parts.netloc:
        raise ValueError(f"{url!r} is not an http(s) origin (scheme://host[:port])")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # IPv6
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host += f":{port}"
    return f"{scheme}://{host}"


def _origins(values: tuple[str, ...]) -> tuple[str, ...]:
    """Allowed browser origins in the form browsers send; "*" (any) stays as it is. A path
    is refused rather than cut off: an origin never has one, so the entry is a mistake."""
    cleaned = []
    for value in values:
        if value == "*":
            cleaned.append(value)
            continue
        normal = origin(value)
        parts = urlsplit(value)
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"{value!r} is not an origin: it has a path ({normal} has none)")
        cleaned.append(normal)
    return tuple(dict.fromkeys(cleaned))


def _count(value: int) -> int:
    if value < 0:
        raise ValueError(f"{value} is not a count (0 or more)")
    return value


def _public_origin(s: Any) -> tuple[str, ...]:
    try:
        return (origin(s.public_url),)
    except ValueError as exc:
        raise ValueError(f"the default is HELPDESK_PUBLIC_URL's origin, and {exc}") from exc


@dataclass(frozen=True)
class Settings:
    # The checkout the code runs from; set by load_settings, not from the environment.
    repo_root: Path
    # The guides (Markdown articles, categories, synonyms) the search indexes and the editor
    # changes.
    kb_dir: Path = setting(REPO_ROOT / "kb")  # noqa: RUF009
    # Everything the helpdesk writes: index, models, databases, logs, locks.
    data_dir: Path = setting(REPO_ROOT / "var")  # noqa: RUF009
    # Empty means: the multilingual-e5-small folder built at install time.
    embedding_model: str = setting("")
    # Above this many chunks the vector index switches from exact to HNSW search.
    ann_threshold: int = setting(20000)
    # Torch threads of the query encoder (retrieval/embeddings.py); one keeps latency steady.
    torch_threads: int = setting(1)
    # Matrix products of query encoding: "auto" (bfloat16 where the CPU computes it natively),
    # "float32" or "bfloat16" (retrieval/lean_encoder.py).
    query_precision: str = setting("auto", clean=_strip_lower)
    # A longer query is cut at a word boundary before the search (retrieval/retriever.py).
    max_query_chars: int = setting(2000)
    # An optional stronger sentence-transformers model (local folder or a name in the local
    # Hugging Face cache) that re-scores the top candidate guides; empty: off, the search ranks
    # and decides without it (retrieval/judge.py).
    judge_model: str = setting("", clean=str.strip)
    # How many of the best-ranked guides the judge re-scores.
    judge_top: int = setting(3)
    # Customers, invoices, handoffs, feedback, verification attempts (SQLAlchemy URL).
    database_url: str = setting(derive=lambda s: f"sqlite:///{s.data_dir / 'helpdesk.db'}")
    # Key of the HMAC that support and VIP codes are stored under; empty: the file
    # secret_key in secrets_dir.
    secret_key: str = setting("")
    # Folder of the secrets the installation makes for itself (code key, session key, the
    # KB and Rasa API tokens; core/keys.py); empty: the data folder. Replicas on several
    # machines are given one copy of it.
    secrets_dir: str = setting("", clean=str.strip)
    # Rasa's own conversation memory: its SQL tracker store (SQLite or PostgreSQL URL).
    tracker_store_url: str = setting(derive=lambda s: f"sqlite:///{s.data_dir / 'rasa-tracker.db'}")
    # Rasa's lock store: empty means in memory (file locks with several Rasa processes),
    # redis://… means Redis (helpdesk/rasa_config.py).
    lock_store_url: str = setting("")
    # Rasa's HTTP port on loopback; the web app talks to the bot there.
    rasa_port: int = setting(5005)
    # The action server's port on loopback; it also hosts the KB search routes.
    action_port: int = setting(5055)
    # Seconds between an action server's looks into the database for articles published
    # through another machine (kb/replica.py); 0 turns it off. Two tiny queries each time.
    kb_sync_interval: float = setting(1.0)
    # Rasa server processes. More than one share conversations through a lock store: Redis
    # when lock_store_url names one, else file locks on this machine (bot/lock_store.py).
    rasa_workers: int = setting(1)
    # Where customers open a guide: the web app's public address, without a trailing slash.
    public_url: str = setting("http://127.0.0.1:8000", clean=_strip_slash)
    # The path of an article under public_url; {id} is the article's id.
    article_path: str = setting("/hilfe/{id}")
    # The web app (widget, console, editor) listens here, on loopback.
    web_port: int = setting(8000)
    # Demo mode (`make run`): demo accounts with printed passwords. Off: no default accounts.
    demo: bool = setting(False)
    # Session cookies only over HTTPS; on by default when the public URL is https.
    secure_cookies: bool = setting(derive=lambda s: s.public_url.startswith("https"))
    # Chat requests, counted per client address and per conversation (Flask-Limiter notation).
    chat_rate_limit: str = setting("30/minute")
    # The console's customer verification attempts, counted the same way.
    verify_rate_limit: str = setting("10/minute")
    # Where the counters of those limits live (a Flask-Limiter storage URI). memory:// counts
    # in each web process apart; with more than one, a shared redis://host:port/db keeps one
    # count for all (otherwise every replica multiplies the limits).
    rate_limit_storage_url: str = setting("memory://", clean=str.strip)
    # Browser origins (scheme://host[:port], comma- or space-separated, "*" for any) whose
    # pages may use the chat API, Rasa's socket.io channel and its REST channel from their own
    # site, as third-party widgets served from the provider's site do. Default: only the
    # public URL's own origin; an empty value: no other origin at all.
    allowed_origins: tuple[str, ...] = setting(derive=_public_origin, clean=_origins)
    # Reverse proxies in front of the web app and Rasa (nginx and the like), as a count of
    # hops. Each appends the address it saw to X-Forwarded-For; that many entries from the
    # right are trusted, so the rate limits and code lockouts count each customer, not the
    # proxy. 0: no proxy, the header is ignored (anyone could forge it).
    trusted_proxies: int = setting(0, clean=_count)
    # The provider's name in the widget and the demo pages.
    brand: str = setting("Beispiel Hosting")
    # Seconds the web app waits for Rasa before it answers from the KB itself.
    rasa_timeout: float = setting(10.0)

    @property
    def secrets_path(self) -> Path:
        return Path(self.secrets_dir) if self.secrets_dir else self.data_dir

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    def article_url(self, article_id: int) -> str:
        return self.public_url + self.article_path.format(id=article_id)

    @property
    def action_server_url(self) -> str:
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


# How a value from the environment becomes the field's type; a setting of any other type
# fails at import, not at the first start in production.
_PARSERS: dict[Any, Callable[[str], Any]] = {
    str: str,
    int: int,
    float: float,
    bool: _flag,
    Path: Path,
    tuple[str, ...]: _words,
}
_EXPECTED = {int: "an integer", float: "a number"}


@dataclass(frozen=True)
class _Declared:
    name: str
    env: str
    parse: Callable[[str], Any]
    expected: str
    spec: _Spec


def _declared() -> tuple[_Declared, ...]:
    # Annotations are strings (postponed evaluation); resolve them once.
    types = typing.get_type_hints(Settings)
    declared = []
    for f in dataclasses.fields(Settings):
        spec = f.metadata.get(_SPEC)
        if spec is None:
            continue
        kind = types[f.name]
        if kind not in _PARSERS:
            raise TypeError(f"setting {f.name}: no parser for {kind!r}")
        env = _ENV_PREFIX + f.name.upper()
        expected = _EXPECTED.get(kind, f"a valid {kind.__name__}")
        declared.append(_Declared(f.name, env, _PARSERS[kind], expected, spec))
    return tuple(declared)


_SETTINGS = _declared()


def _env_value(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, tuple):
        return ",".join(value)  # read back by _words
    return str(value)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a child process exactly these settings."""
    return {d.env: _env_value(getattr(settings, d.name)) for d in _SETTINGS}


def _parse(declared: _Declared, raw: str) -> Any:
    try:
        return declared.parse(raw)
    except ValueError as exc:
        # The bare int()/float() message names neither the variable nor where to fix it.
        raise ValueError(f"{declared.env}={raw!r} is not {declared.expected}") from exc


def _value(declared: _Declared, raw: str | None, loaded: SimpleNamespace) -> Any:
    spec = declared.spec
    if raw is not None:
        value = _parse(declared, raw)
    elif spec.derive is None:
        value = spec.default
    else:
        try:
            value = spec.derive(loaded)
        except ValueError as exc:
            # Name the variable that would have spared the derivation.
            raise ValueError(f"{declared.env} is not set: {exc}") from exc
    if spec.clean is None:
        return value
    try:
        return spec.clean(value)
    except ValueError as exc:
        raise ValueError(f"{declared.env}: {exc}") from exc


def load_settings() -> Settings:
    # Settings declared earlier are visible to the derived defaults of later ones.
    loaded = SimpleNamespace(repo_root=REPO_ROOT)
    for declared in _SETTINGS:
        raw = os.environ.get(declared.env)
        setattr(loaded, declared.name, _value(declared, raw, loaded))
    return Settings(**vars(loaded))
